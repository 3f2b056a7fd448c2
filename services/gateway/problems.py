"""Errors as RFC 9457 `application/problem+json`, and gRPC statuses mapped to them."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import orjson
from starlette.responses import Response

from services.kit.errors import FieldViolation, NotDone
from services.kit.grpc_errors import error_reason, field_violations, status_of_error
from services.kit.logs import current_request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# What a 503 asks a caller to wait before retrying: backends come back within seconds of
# a restart or a broker's return, and a shorter wait would only meet the same refusal.
RETRY_AFTER_SECONDS = 2

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Problem(Exception):
    """An HTTP error a handler raises; `slug` makes its stable `type`.

    `no_effect` says the request certainly changed nothing (no backend received it), so
    its Idempotency-Key may run again."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        errors: list[FieldViolation] | None = None,
        headers: dict[str, str] | None = None,
        no_effect: bool = False,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.no_effect = no_effect
        if status == 503:
            self.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:gantry:problem:{self.slug}",
            "title": TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "request_id": current_request_id(),
        }
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.description} for e in self.errors]
        return body

    def response(self) -> Response:
        return Response(orjson.dumps(self.body()), self.status, self.headers, media_type=PROBLEM_JSON)


_GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "validation-error"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already-exists"),
    grpc.StatusCode.ABORTED: (412, "version-mismatch"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate-limited"),
    grpc.StatusCode.UNAVAILABLE: (503, "backend-unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "backend-timeout"),
}


# Errors a backend names (google.rpc.ErrorInfo) that deserve their own answer.
_REASON_TO_HTTP = {
    "IDEMPOTENCY_KEY_REUSED": (422, "idempotency-key-reused"),
    "INSUFFICIENT_FUNDS": (409, "insufficient-funds"),
    # More readings than telemetry takes in one request: the same, split, is welcome.
    "TOO_MANY_READINGS": (413, "too-many-readings"),
}


# How grpc words a call that found no connection to send it on: the backend never saw it.
_NEVER_SENT = ("failed to connect to all addresses", "DNS resolution failed", "empty address list")


def _never_sent(error: grpc.aio.AioRpcError) -> bool:
    return error.code() == grpc.StatusCode.UNAVAILABLE and (error.details() or "").startswith(_NEVER_SENT)


def _transport_detail(error: grpc.aio.AioRpcError, service: str) -> str:
    """What a caller can do about a failure grpc itself reports; its own words name
    addresses and socket errors, which are for operators only."""
    code = error.code()
    if _never_sent(error):
        return (
            f"{service} is briefly unavailable and did not receive this request; retry in a few "
            "seconds (with the same Idempotency-Key if you sent one) and quote the request id"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return (
            f"{service} stopped answering while it handled this request, so it may have taken "
            "effect; check before sending it again, and quote the request id"
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return (
            f"{service} did not answer in time, so this request may have taken effect; check "
            "before sending it again, and quote the request id"
        )
    return f"{service} could not take this request; quote the request id"


def from_grpc(error: grpc.aio.AioRpcError, field_prefix: str = "", service: str = "") -> Problem:
    """The answer to a failed call to `service` (a name such as "registry").

    A backend's own errors keep their message, written for the caller. grpc's own (a
    refused connection, a broken pipe) are logged with the request id, for operators, and
    answered with what the caller can do instead. Only a call grpc never sent certainly
    changed nothing (`no_effect`), and one the backend says it did not do: any other
    UNAVAILABLE may come after a commit whose outcome it could not learn, and a call cut
    off may have run to its end."""
    status, slug = _GRPC_TO_HTTP.get(error.code(), (502, "backend-error"))
    status, slug = _REASON_TO_HTTP.get(error_reason(error), (status, slug))
    deliberate = status_of_error(error) is not None
    if not deliberate:
        log.warning(
            "backend call failed",
            extra={"service": service, "code": error.code().name, "details": error.details()},
        )
    if status == 502:
        detail = "a backend service failed; retry later and quote the request id"
    elif deliberate:
        detail = error.details() or error.code().name.lower()
    else:
        detail = _transport_detail(error, f"the {service} service" if service else "a backend service")
    # A backend that says it changed nothing (NOT_DONE) leaves the request free to run again.
    no_effect = _never_sent(error) or error_reason(error) == NotDone.reason
    return Problem(status, slug, detail, field_violations(error, field_prefix), no_effect=no_effect)
