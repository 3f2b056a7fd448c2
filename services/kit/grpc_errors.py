"""What a Gantry backend's gRPC error says beyond its code: the google.rpc.Status details
that `services.kit.grpc_calls` attaches, read by the processes that call the backends."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.kit.errors import FieldViolation


def status_of_error(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status a Gantry backend sends with every error it raises on purpose
    (`services.kit.grpc_calls`); None for grpc's own errors, such as a lost connection."""
    return rpc_status.from_call(error) if error.trailing_metadata() else None


def _details(error: grpc.aio.AioRpcError) -> list[Any]:
    status = status_of_error(error)
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


def retry_seconds(error: grpc.aio.AioRpcError) -> float:
    """How long a gRPC error's RetryInfo asks to wait before trying again, or 0."""
    for detail in _details(error):
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return 0.0
