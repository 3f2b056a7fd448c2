"""A service's servicer on a real in-process grpcio server, reached over a real channel."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from services.kit.grpc_server import build_async_server, build_server

STOP_SECONDS = 10.0


@contextmanager
def serving(
    add_servicer: Callable[[Any, grpc.Server], None], servicer: Any, service_name: str
) -> Iterator[grpc.Channel]:
    """A channel to `servicer`, added by its generated `add_..._to_server`, on a free port
    of a threaded server."""
    server, _, port = build_server(lambda server: add_servicer(servicer, server), [service_name], 0)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop(None)


@contextmanager
def serving_async(
    add_servicer: Callable[[Any, grpc.aio.Server], None], servicer: Any, service_name: str
) -> Iterator[grpc.Channel]:
    """`serving` on an asyncio server, as a service whose `-api` process runs one: its
    event loop runs on a thread of its own until the server stops."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="asyncio-server", daemon=True)
    thread.start()

    def on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(STOP_SECONDS)

    try:
        server, _, port = on_loop(
            build_async_server(lambda server: add_servicer(servicer, server), [service_name], 0)
        )
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield channel
        finally:
            on_loop(_stop(server))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_SECONDS)
        loop.close()


async def _stop(server: grpc.aio.Server) -> None:
    """Stops `server`, then lets the tasks it leaves behind finish, as `asyncio.run` does."""
    await server.stop(None)
    left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
