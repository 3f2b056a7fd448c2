"""What every gRPC call goes through: request ids, deadlines, error mapping, logs and
metrics, on threaded and asyncio servers alike.

Each method's handler is wrapped once, as its service is added to the server, rather
than by an interceptor on every call; and one wrapper does all of it, because every call
pays for each layer. The concerns stay apart as the small parts below.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.kit import errors, metrics
from services.kit.faults import is_transient, lost_connection
from services.kit.logs import REQUEST_ID_HEADER, adopt_request_id, current_request_id

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
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
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
    if isinstance(error, errors.Throttled):
        detail = any_pb2.Any()
        wait = duration_pb2.Duration(seconds=math.ceil(error.retry_after.total_seconds()))
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=wait))
        status.details.append(detail)
    return status


def _request_id(context: Any) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER:
            return value
    return None


class _Method:
    """A method's name and its metrics' series, looked up once rather than on every call."""

    __slots__ = ("_handled", "latency", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.latency = metrics.GRPC_LATENCY.labels(name)
        self._handled: dict[grpc.StatusCode, Any] = {}

    def handled(self, code: grpc.StatusCode) -> Any:
        series = self._handled.get(code)
        if series is None:
            series = self._handled[code] = metrics.GRPC_HANDLED.labels(self.name, code.name)
        return series


class _Call:
    """One call's request id, timing and outcome, counted and logged when it ends."""

    __slots__ = ("code", "method", "started")

    def __init__(self, method: _Method, context: Any) -> None:
        adopt_request_id(_request_id(context))
        self.method = method
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.UNKNOWN

    def expired(self, context: Any) -> bool:
        """Whether the call's deadline passed while it queued for a worker: the client
        has already given up on it, so it is not worth starting."""
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            self.code = grpc.StatusCode.DEADLINE_EXCEEDED
            return True
        return False

    def failed(self, error: Exception) -> Any:
        """The status a call that raised `error` ends with: a domain error's own, or
        INTERNAL, which says nothing of the cause but the request id to look it up by."""
        if isinstance(error, errors.GantryError):
            status = rpc_status.to_status(status_of(error))
        elif is_transient(error):
            log.warning("database unavailable", extra={"method": self.method.name, "error": str(error)})
            # Its transaction rolled back: a broken commit is CommitOutcomeUnknown instead.
            status = rpc_status.to_status(status_of(errors.NotDone(_DATABASE_DOWN)))
        else:
            log.exception("unhandled error", extra={"method": self.method.name})
            status = rpc_status.to_status(
                status_pb2.Status(
                    code=code_pb2.INTERNAL, message=f"internal error (request {current_request_id()})"
                )
            )
        self.code = status.code
        return status

    def end(self) -> None:
        elapsed = time.perf_counter() - self.started
        self.method.handled(self.code).inc()
        self.method.latency.observe(elapsed)
        # A call that succeeds is routine: at DEBUG, so that an idle platform's log is quiet.
        level = logging.DEBUG if self.code == grpc.StatusCode.OK else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "grpc call",
                extra={"method": self.method.name, "code": self.code.name, "ms": round(elapsed * 1000, 2)},
            )


_EXPIRED = "deadline passed before the call started"
_DATABASE_DOWN = "the service's database is unavailable; retry shortly"


def _abort(context: Any, status: Any) -> None:
    # Trailing metadata and abort, rather than abort_with_status, which the contexts
    # of an asyncio server's thread-run handlers lack.
    context.set_trailing_metadata(status.trailing_metadata)
    context.abort(status.code, status.details)


def _unary(method: _Method, behavior: Callable) -> Callable:
    def run(request: Any, context: Any) -> Any:
        call = _Call(method, context)
        try:
            if call.expired(context):
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, _EXPIRED)
            try:
                reply = behavior(request, context)
            except Exception as error:
                _abort(context, call.failed(error))
            call.code = grpc.StatusCode.OK
            return reply
        finally:
            call.end()

    return run


def _streaming(method: _Method, behavior: Callable) -> Callable:
    def run(request: Any, context: Any) -> Iterator[Any]:
        call = _Call(method, context)
        try:
            if call.expired(context):
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, _EXPIRED)
            try:
                yield from behavior(request, context)
            except Exception as error:
                _abort(context, call.failed(error))
            call.code = grpc.StatusCode.OK
        finally:
            call.end()

    return run


def _coroutine(method: _Method, behavior: Callable) -> Callable:
    async def run(request: Any, context: Any) -> Any:
        call = _Call(method, context)
        try:
            if call.expired(context):
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, _EXPIRED)
            try:
                reply = await behavior(request, context)
            except Exception as error:
                status = call.failed(error)
                await context.abort(status.code, status.details, status.trailing_metadata)
            call.code = grpc.StatusCode.OK
            return reply
        finally:
            call.end()

    return run


def _retrying(behavior: Callable) -> Callable:
    """`behavior`, run once more when it met a database connection that had broken: the
    pool has replaced its connections by then, and nothing was committed."""

    def run(request: Any, context: Any) -> Any:
        try:
            return behavior(request, context)
        except Exception as error:
            if not lost_connection(error):
                raise
            log.warning("database connection lost; calling again", extra={"error": str(error)})
            return behavior(request, context)

    return run


def _unary_retrying(method: _Method, behavior: Callable) -> Callable:
    # Only a unary request can be handled twice: a stream of requests is read once.
    return _unary(method, _retrying(behavior))


_KINDS = {
    "unary_unary": (_unary_retrying, grpc.unary_unary_rpc_method_handler),
    "stream_unary": (_unary, grpc.stream_unary_rpc_method_handler),
    "unary_stream": (_streaming, grpc.unary_stream_rpc_method_handler),
    "stream_stream": (_streaming, grpc.stream_stream_rpc_method_handler),
}


def _wrap(method: str, handler: Any) -> Any:
    """`handler` with its behaviour run between the start and the end of a `_Call`: a
    coroutine's awaited on an asyncio server's loop, a function's run on a thread."""
    for kind, (wrap, make_handler) in _KINDS.items():
        behavior = getattr(handler, kind)
        if behavior is not None:
            if inspect.iscoroutinefunction(behavior):
                wrap = _coroutine
            return make_handler(
                wrap(_Method(method), behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


class _InstrumentedService(grpc.GenericRpcHandler):
    """A service's generic handler whose method handlers are wrapped, each once."""

    def __init__(self, service: grpc.GenericRpcHandler) -> None:
        self._service = service
        self._wrapped: dict[str, Any] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        method = handler_call_details.method
        if method not in self._wrapped:
            handler = self._service.service(handler_call_details)
            self._wrapped[method] = None if handler is None else _wrap(method, handler)
        return self._wrapped[method]


class Instrumented:
    """A server as a service's generated `add_..._to_server` sees it: every method handler
    added through it is wrapped."""

    def __init__(self, server: grpc.Server | grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, services: tuple[grpc.GenericRpcHandler, ...]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_InstrumentedService(service) for service in services))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self._server.add_registered_method_handlers(
            service, {name: _wrap(f"/{service}/{name}", handler) for name, handler in handlers.items()}
        )
