"""The gRPC server interceptor: request ids, deadlines, error mapping, logs and metrics.

One interceptor does all of it because every call pays for each wrapper layer; the
concerns stay apart as the small functions below.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.kit import errors, metrics
from services.kit.logs import REQUEST_ID_HEADER, bind_request_id, current_request_id

log = logging.getLogger("gantry.grpc")

ERROR_DOMAIN = "gantry"

_CODES = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.VersionMismatch: code_pb2.ABORTED,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
}


def status_of(error: errors.GantryError) -> status_pb2.Status:
    """The google.rpc.Status of a domain error, with field violations where it has them."""
    # The nearest kind of error mapped: a use case's own errors refine the kit's.
    code = next(_CODES[kind] for kind in type(error).__mro__ if kind in _CODES)
    status = status_pb2.Status(code=code, message=error.message)
    if isinstance(error, errors.InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
        status.details.append(detail)
    if error.reason:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN))
        status.details.append(detail)
    return status


def _start(context: grpc.ServicerContext) -> float:
    bind_request_id(_request_id(context))
    # A call whose deadline passed while it queued for a worker thread is not
    # worth starting: the client has already given up on it.
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed before the call started")
    return time.perf_counter()


def _request_id(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER:
            return value
    return None


def _fail(method: str, context: grpc.ServicerContext, error: Exception) -> None:
    """Aborts the call with the status its error deserves; always raises."""
    if isinstance(error, errors.GantryError):
        context.abort_with_status(rpc_status.to_status(status_of(error)))
    if context.code() not in (None, grpc.StatusCode.OK):
        raise error  # already aborted with a chosen status
    log.exception("unhandled error", extra={"method": method})
    context.abort(grpc.StatusCode.INTERNAL, f"internal error (request {current_request_id()})")


def _record(method: str, context: grpc.ServicerContext, started: float, failed: bool) -> None:
    elapsed = time.perf_counter() - started
    code = context.code()
    name = (code or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)).name
    metrics.GRPC_HANDLED.labels(method, name).inc()
    metrics.GRPC_LATENCY.labels(method).observe(elapsed)
    if log.isEnabledFor(logging.INFO):
        log.info("grpc call", extra={"method": method, "code": name, "ms": round(elapsed * 1000, 2)})


class GantryInterceptor(grpc.ServerInterceptor):
    """Runs every handler, unary or streaming, between `_start` and `_record`, mapping errors.

    The wrapped handler of each method is made once and kept: the interceptor runs on
    every call, and a call's own data (its metadata) is read from its context.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, Any] = {}

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        method = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = continuation(details)
            if handler is None:
                return None
            wrapped = self._wrapped[method] = _wrap(method, handler)
        return wrapped


def _wrap(method: str, handler: Any) -> Any:
    def unary(behavior: Callable) -> Callable:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            started = _start(context)
            failed = True
            try:
                reply = behavior(request, context)
                failed = False
                return reply
            except Exception as error:
                _fail(method, context, error)
            finally:
                _record(method, context, started, failed)

        return run

    def streaming(behavior: Callable) -> Callable:
        def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = _start(context)
            failed = True
            try:
                yield from behavior(request, context)
                failed = False
            except Exception as error:
                _fail(method, context, error)
            finally:
                _record(method, context, started, failed)

        return run

    kinds = {
        "unary_unary": (unary, grpc.unary_unary_rpc_method_handler),
        "stream_unary": (unary, grpc.stream_unary_rpc_method_handler),
        "unary_stream": (streaming, grpc.unary_stream_rpc_method_handler),
        "stream_stream": (streaming, grpc.stream_stream_rpc_method_handler),
    }
    for kind, (wrap, make_handler) in kinds.items():
        behavior = getattr(handler, kind)
        if behavior is not None:
            return make_handler(
                wrap(behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


def server_interceptors() -> list[grpc.ServerInterceptor]:
    return [GantryInterceptor()]
