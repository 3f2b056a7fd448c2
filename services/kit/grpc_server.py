"""Bootstrap of a service's `-api` process: a grpcio server with health, reflection and
interceptors, stopped gracefully on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import MetaData

from services.kit import logs, metrics, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.interceptors import server_interceptors
from services.kit.store import Store

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def build_server(
    register: Callable[[grpc.Server], None], service_names: list[str], port: int
) -> tuple[grpc.Server, health.HealthServicer, int]:
    """A started server answering `service_names`, health and reflection; returns its bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_workers()),
        interceptors=server_interceptors(),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    bound = server.add_insecure_port(f"{settings.bind_host()}:{port}")
    if bound == 0:
        raise SystemExit(f"cannot listen on {settings.bind_host()}:{port}")
    server.start()
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, health_servicer, bound


def run(
    process: str,
    register: Callable[[grpc.Server], None],
    service_names: list[str],
    port: int,
    on_stop: Callable[[], None] = lambda: None,
) -> None:
    """Serves until SIGTERM or SIGINT, then drains calls in flight and calls `on_stop`."""
    logs.configure(process)
    metrics.serve(process)
    server, health_servicer, bound = build_server(register, service_names, port)
    log.info("serving", extra={"port": bound, "services": service_names})
    stopped = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        health_servicer.enter_graceful_shutdown()
        server.stop(SHUTDOWN_GRACE_SECONDS).wait()
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait_for_termination()
    stopped.wait()
    on_stop()
    log.info("stopped")


def serve_service(
    service: str,
    metadata: MetaData,
    add_servicer: Callable[[grpc.Server, Store], None],
    service_name: str,
) -> None:
    """Runs the `-api` process of `service`: its store, event publisher and gRPC server."""
    publisher = ConfirmingPublisher(settings.amqp_url(), Topology.from_env())
    store = Store(service, metadata, publisher)

    def stop() -> None:
        publisher.close()
        store.close()

    run(
        f"{service}-api",
        lambda server: add_servicer(server, store),
        [service_name],
        settings.grpc_port(service),
        on_stop=stop,
    )
