"""Bootstrap of a service's `-api` process: a grpcio server with health, reflection and
every call instrumented (`grpc_calls`), stopped gracefully on SIGTERM.

Services serve on a threaded server. A service whose hottest call answers from a
coroutine serves on an asyncio server instead (`asynchronous=True`): its coroutines run
on the event loop and its plain functions on the server's threads, so one servicer may
mix both.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import MetaData

from services.kit import logs, metrics, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.grpc_calls import Instrumented
from services.kit.store import Store

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Calls under way when a connection reaches its age keep this long to finish: longer than
# the longest (a CSV export's 600 s).
MAX_CONNECTION_AGE_GRACE_MS = 630_000


def _options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        # Clients keep one connection to a Service for as long as it lasts, so replicas
        # an autoscaler adds would take no calls from them: ending each connection after
        # a while (gRPC adds jitter) makes clients connect again, spread over the replicas.
        ("grpc.max_connection_age_ms", int(settings.grpc_max_connection_age_seconds() * 1000)),
        ("grpc.max_connection_age_grace_ms", MAX_CONNECTION_AGE_GRACE_MS),
    ]


def _workers() -> futures.ThreadPoolExecutor:
    return futures.ThreadPoolExecutor(max_workers=settings.grpc_workers())


def _prepare(
    server: grpc.Server | grpc.aio.Server,
    register: Callable[[Instrumented], None],
    health_servicer: Any,
    service_names: list[str],
    port: int,
) -> int:
    """Adds the services, health and reflection to `server` and binds it; returns the port."""
    register(Instrumented(server))
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    bound = server.add_insecure_port(f"{settings.bind_host()}:{port}")
    if bound == 0:
        raise SystemExit(f"cannot listen on {settings.bind_host()}:{port}")
    return bound


def build_server(
    register: Callable[[Instrumented], None], service_names: list[str], port: int
) -> tuple[grpc.Server, health.HealthServicer, int]:
    """A started threaded server answering `service_names`, health and reflection; returns its bound port."""
    server = grpc.server(_workers(), options=_options())
    health_servicer = health.HealthServicer()
    bound = _prepare(server, register, health_servicer, service_names, port)
    server.start()
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, health_servicer, bound


async def build_async_server(
    register: Callable[[Instrumented], None], service_names: list[str], port: int
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """`build_server` on the running event loop, with an asyncio server."""
    server = grpc.aio.server(migration_thread_pool=_workers(), options=_options())
    health_servicer = health.aio.HealthServicer()
    bound = _prepare(server, register, health_servicer, service_names, port)
    await server.start()
    for name in ("", *service_names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, health_servicer, bound


def run(
    process: str,
    register: Callable[[Instrumented], None],
    service_names: list[str],
    port: int,
    on_stop: Callable[[], None] = lambda: None,
    asynchronous: bool = False,
    on_serving: Callable[[health.HealthServicer], None] | None = None,
) -> None:
    """Serves until SIGTERM or SIGINT, then drains calls in flight and calls `on_stop`;
    with `asynchronous`, on an asyncio server and an event loop of its own. A threaded
    server hands its health servicer to `on_serving` once it serves, for a service whose
    health depends on more than the process."""
    logs.configure(process)
    metrics.serve(process)
    if asynchronous:
        if on_serving is not None:
            raise ValueError("on_serving needs a threaded server, whose health servicer any thread may set")
        asyncio.run(_serve_async(register, service_names, port))
    else:
        _serve(register, service_names, port, on_serving or (lambda servicer: None))
    on_stop()
    log.info("stopped")


def _serve(
    register: Callable[[Instrumented], None],
    service_names: list[str],
    port: int,
    on_serving: Callable[[health.HealthServicer], None],
) -> None:
    server, health_servicer, bound = build_server(register, service_names, port)
    log.info("serving", extra={"port": bound, "services": service_names})
    on_serving(health_servicer)
    stopped = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        _stopping(signum)
        health_servicer.enter_graceful_shutdown()
        server.stop(SHUTDOWN_GRACE_SECONDS).wait()
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait_for_termination()
    stopped.wait()


async def _serve_async(register: Callable[[Instrumented], None], service_names: list[str], port: int) -> None:
    server, health_servicer, bound = await build_async_server(register, service_names, port)
    log.info("serving", extra={"port": bound, "services": service_names})
    signalled = asyncio.Event()

    def stop(signum: int) -> None:
        _stopping(signum)
        signalled.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    await signalled.wait()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(SHUTDOWN_GRACE_SECONDS)


def _stopping(signum: int) -> None:
    log.info("stopping", extra={"signal": signal.Signals(signum).name})


def serve_service(
    service: str,
    metadata: MetaData,
    add_servicer: Callable[[Instrumented, Store, grpc.Channel], None],
    service_name: str,
) -> None:
    """Runs the `-api` process of `service`: its store, event publisher, a channel to the
    registry (which the services ask who exists and owns what) and its gRPC server."""
    publisher = ConfirmingPublisher(settings.amqp_url(), Topology.from_env())
    store = Store(service, metadata, publisher)
    registry = grpc.insecure_channel(settings.grpc_target("registry"))

    def stop() -> None:
        registry.close()
        publisher.close()
        store.close()

    run(
        f"{service}-api",
        lambda server: add_servicer(server, store, registry),
        [service_name],
        settings.grpc_port(service),
        on_stop=stop,
    )
