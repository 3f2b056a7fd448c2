"""A service's servicer on a real in-process grpcio server, reached over a real channel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from services.kit.grpc_server import build_server


@contextmanager
def serving(
    add_servicer: Callable[[Any, grpc.Server], None], servicer: Any, service_name: str
) -> Iterator[grpc.Channel]:
    """A channel to `servicer`, added by its generated `add_..._to_server`, on a free port."""
    server, _, port = build_server(lambda server: add_servicer(servicer, server), [service_name], 0)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop(None)
