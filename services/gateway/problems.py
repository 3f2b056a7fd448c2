"""Errors as RFC 9457 `application/problem+json`, and gRPC statuses mapped to them."""

from __future__ import annotations

from typing import Any

import grpc
import orjson
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from starlette.responses import Response

from services.kit.errors import FieldViolation
from services.kit.logs import current_request_id

PROBLEM_JSON = "application/problem+json"

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
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Problem(Exception):
    """An HTTP error a handler raises; `slug` makes its stable `type`."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        errors: list[FieldViolation] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

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
}


def _details(error: grpc.aio.AioRpcError) -> list[Any]:
    status = rpc_status.from_call(error) if error.trailing_metadata() else None
    return list(status.details) if status else []


def field_violations(error: grpc.aio.AioRpcError, prefix: str = "") -> list[FieldViolation]:
    """The BadRequest violations of a gRPC error, field names without `prefix`."""
    violations: list[FieldViolation] = []
    for detail in _details(error):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations += [
                FieldViolation(v.field.removeprefix(prefix), v.description)
                for v in bad_request.field_violations
            ]
    return violations


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The reason a gRPC error names in its ErrorInfo, or ""."""
    for detail in _details(error):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def from_grpc(error: grpc.aio.AioRpcError, field_prefix: str = "") -> Problem:
    status, slug = _GRPC_TO_HTTP.get(error.code(), (502, "backend-error"))
    status, slug = _REASON_TO_HTTP.get(error_reason(error), (status, slug))
    detail = error.details() or error.code().name.lower()
    if status == 502:
        detail = "a backend service failed; retry later and quote the request id"
    return Problem(status, slug, detail, field_violations(error, field_prefix))
