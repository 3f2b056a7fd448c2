"""The gateway's one way to call the services (channels: the kit's `Backends`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from services.gateway.problems import from_grpc
from services.kit.grpc_clients import Backends, backend_of
from services.kit.logs import REQUEST_ID_HEADER, current_request_id

# Backends is the gateway modules' name for the kit's channels.
__all__ = ["CALL_TIMEOUT_SECONDS", "Backends", "call", "open_stream"]

CALL_TIMEOUT_SECONDS = 5.0
EXPORT_TIMEOUT_SECONDS = 600.0

Reply = TypeVar("Reply")


async def open_stream(method: Callable[..., Any], request: Any) -> tuple[Any, AsyncIterator[Any]]:
    """A server stream's first message (None when empty) and the rest; failures before
    the first message become Problems, so that an HTTP error can still be answered."""
    stream = method(
        request, timeout=EXPORT_TIMEOUT_SECONDS, metadata=((REQUEST_ID_HEADER, current_request_id()),)
    )
    try:
        first = await stream.read()
    except grpc.aio.AioRpcError as error:
        raise from_grpc(error, service=backend_of(method)) from None

    async def rest() -> AsyncIterator[Any]:
        # grpc.aio forbids iterating a call that was read from: read on.
        while (message := await stream.read()) is not grpc.aio.EOF:
            yield message

    return (None if first is grpc.aio.EOF else first), rest()


async def call(
    method: Callable[..., Awaitable[Reply]],
    request: Any,
    field_prefix: str = "",
    timeout: float = CALL_TIMEOUT_SECONDS,
) -> Reply:
    """Calls a backend with the request id and a deadline; failures become Problems,
    naming fields as the HTTP body does (without the gRPC message's `field_prefix`)."""
    try:
        return await method(
            request,
            timeout=timeout,
            metadata=((REQUEST_ID_HEADER, current_request_id()),),
        )
    except grpc.aio.AioRpcError as error:
        raise from_grpc(error, field_prefix, backend_of(method)) from None
