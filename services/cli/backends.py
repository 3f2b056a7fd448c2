"""The services' gRPC APIs, called as the operator: the gateway passes an operator's
requests on as they are, with no tenant, and the services trust whoever reaches them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from gantry.v1 import analytics_pb2_grpc, marketplace_pb2_grpc, registry_pb2_grpc, telemetry_pb2_grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from services.cli import settings
from services.cli.output import CliError, Exit
from services.kit.grpc_errors import field_violations
from services.kit.settings import grpc_target

Reply = TypeVar("Reply")
STUBS: dict[str, Callable[[grpc.Channel], Any]] = {
    "registry": registry_pb2_grpc.RegistryServiceStub,
    "telemetry": telemetry_pb2_grpc.TelemetryServiceStub,
    "marketplace": marketplace_pb2_grpc.MarketplaceServiceStub,
    "analytics": analytics_pb2_grpc.AnalyticsServiceStub,
}
_EXITS = {
    grpc.StatusCode.INVALID_ARGUMENT: Exit.USAGE,
    grpc.StatusCode.OUT_OF_RANGE: Exit.USAGE,
    grpc.StatusCode.NOT_FOUND: Exit.NOT_FOUND,
    grpc.StatusCode.UNAVAILABLE: Exit.UNREACHABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: Exit.UNREACHABLE,
    grpc.StatusCode.ALREADY_EXISTS: Exit.REFUSED,
    grpc.StatusCode.FAILED_PRECONDITION: Exit.REFUSED,
    grpc.StatusCode.ABORTED: Exit.REFUSED,
}


@contextlib.contextmanager
def stub(service: str) -> Iterator[Any]:
    """The stub of `service`'s API at its `GANTRY_<SERVICE>_GRPC_TARGET`."""
    with grpc.insecure_channel(grpc_target(service)) as channel:
        yield STUBS[service](channel)


def call(method: Callable[..., Reply], request: Message) -> Reply:
    """Calls `method`; its errors end the command with the exit code they mean."""
    try:
        return method(request, timeout=settings.GRPC_TIMEOUT_SECONDS)
    except grpc.RpcError as error:
        violations = [f"{v.field}: {v.description}" for v in field_violations(error)]
        code = _EXITS.get(error.code(), Exit.PROBLEM)
        raise CliError(code, f"{error.code().name}: {error.details()}", violations) from error


def as_dict(message: Message) -> dict[str, Any]:
    return MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        unquote_int64_if_possible=True,
    )
