"""gRPC server interceptors: request ids and logging, deadlines, error mapping."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.kit import errors, metrics
from services.kit.logs import REQUEST_ID_HEADER, bind_request_id, current_request_id

log = logging.getLogger("gantry.grpc")

Around = Callable[[str, grpc.ServicerContext, dict[str, str]], AbstractContextManager[None]]


class _AroundInterceptor(grpc.ServerInterceptor):
    """Runs every handler, unary or streaming, inside the context manager `around`."""

    def __init__(self, around: Around) -> None:
        self._around = around

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        metadata = dict(details.invocation_metadata or ())
        around = self._around

        def unary(behavior: Callable) -> Callable:
            def run(request: Any, context: grpc.ServicerContext) -> Any:
                with around(method, context, metadata):
                    return behavior(request, context)

            return run

        def streaming(behavior: Callable) -> Callable:
            def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                with around(method, context, metadata):
                    yield from behavior(request, context)

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


def _code_of(context: grpc.ServicerContext, failed: bool) -> grpc.StatusCode:
    code = context.code()
    if code is None:
        return grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
    return code


@contextmanager
def _observe(method: str, context: grpc.ServicerContext, metadata: dict[str, str]) -> Iterator[None]:
    bind_request_id(metadata.get(REQUEST_ID_HEADER))
    started = time.perf_counter()
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        elapsed = time.perf_counter() - started
        code = _code_of(context, failed).name
        metrics.GRPC_HANDLED.labels(method, code).inc()
        metrics.GRPC_LATENCY.labels(method).observe(elapsed)
        log.info("grpc call", extra={"method": method, "code": code, "ms": round(elapsed * 1000, 2)})


@contextmanager
def _enforce_deadline(method: str, context: grpc.ServicerContext, _: dict[str, str]) -> Iterator[None]:
    # A call whose deadline passed while it queued for a worker thread is not
    # worth starting: the client has already given up on it.
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline passed before the call started")
    yield


_CODES = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.VersionMismatch: code_pb2.ABORTED,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
}


def status_of(error: errors.GantryError) -> status_pb2.Status:
    """The google.rpc.Status of a domain error, with field violations where it has them."""
    status = status_pb2.Status(code=_CODES[type(error)], message=error.message)
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
    return status


@contextmanager
def _map_errors(method: str, context: grpc.ServicerContext, _: dict[str, str]) -> Iterator[None]:
    try:
        yield
    except errors.GantryError as error:
        context.abort_with_status(rpc_status.to_status(status_of(error)))
    except Exception:
        if context.code() not in (None, grpc.StatusCode.OK):
            raise  # already aborted with a chosen status
        log.exception("unhandled error", extra={"method": method})
        context.abort(grpc.StatusCode.INTERNAL, f"internal error (request {current_request_id()})")


def server_interceptors() -> list[grpc.ServerInterceptor]:
    """Outermost first: logging sees the final status of every call."""
    return [
        _AroundInterceptor(_observe),
        _AroundInterceptor(_enforce_deadline),
        _AroundInterceptor(_map_errors),
    ]
