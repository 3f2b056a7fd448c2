"""Every gRPC call goes through one wrapper, on threaded and asyncio servers alike, for
coroutines and functions: domain errors become their statuses with their details,
anything else INTERNAL naming the request id, and each call is counted once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import grpc
import pytest
from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc

from services.kit import metrics
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from tests.support.access import reason_of, violations
from tests.support.serving import serving, serving_async
from tests.support.waiting import eventually

SERVICE = "gantry.v1.RegistryService"
SERIAL_REFUSED = InvalidArgument([FieldViolation("device_id", "must be a UUID")])


def outcome(device_id: str) -> pb.Device:
    """A device, or the failure the id names."""
    if device_id == "invalid":
        raise SERIAL_REFUSED
    if device_id == "missing":
        raise NotFound("device not found")
    if device_id == "broken":
        raise RuntimeError("password=secret in a driver's message")
    return pb.Device(id=device_id)


class Functions(registry_pb2_grpc.RegistryServiceServicer):
    def GetDevice(self, request: pb.GetDeviceRequest, context: grpc.ServicerContext) -> pb.Device:
        return outcome(request.device_id)


class Coroutines(registry_pb2_grpc.RegistryServiceServicer):
    async def GetDevice(self, request: pb.GetDeviceRequest, context: grpc.aio.ServicerContext) -> pb.Device:
        return outcome(request.device_id)


SERVERS: dict[str, Callable[[], AbstractContextManager[grpc.Channel]]] = {
    "threaded server, function": lambda: serving(
        registry_pb2_grpc.add_RegistryServiceServicer_to_server, Functions(), SERVICE
    ),
    "asyncio server, function": lambda: serving_async(
        registry_pb2_grpc.add_RegistryServiceServicer_to_server, Functions(), SERVICE
    ),
    "asyncio server, coroutine": lambda: serving_async(
        registry_pb2_grpc.add_RegistryServiceServicer_to_server, Coroutines(), SERVICE
    ),
}


@pytest.fixture(params=list(SERVERS))
def registry(request: pytest.FixtureRequest) -> Iterator[registry_pb2_grpc.RegistryServiceStub]:
    with SERVERS[request.param]() as channel:
        yield registry_pb2_grpc.RegistryServiceStub(channel)


def get(registry: registry_pb2_grpc.RegistryServiceStub, device_id: str) -> Callable[[], pb.Device]:
    return lambda: registry.GetDevice(
        pb.GetDeviceRequest(device_id=device_id), metadata=(("x-request-id", "trace-7"),), timeout=10
    )


def handled(code: str) -> float:
    return float(metrics.GRPC_HANDLED.labels(f"/{SERVICE}/GetDevice", code)._value.get())


def counted(code: str, count: float) -> None:
    # A thread-run handler's status can reach the client just before the call is counted.
    eventually(lambda: handled(code) == count, 10, f"{count} calls counted {code}")


def test_answers_pass_through_and_are_counted(registry: registry_pb2_grpc.RegistryServiceStub) -> None:
    before = handled("OK")
    assert get(registry, "d-1")().id == "d-1"
    counted("OK", before + 1)


def test_domain_errors_keep_their_status_and_field_violations(
    registry: registry_pb2_grpc.RegistryServiceStub,
) -> None:
    before = handled("INVALID_ARGUMENT")
    assert violations(get(registry, "invalid")) == {"device_id": "must be a UUID"}
    counted("INVALID_ARGUMENT", before + 1)
    assert reason_of(get(registry, "missing")) == (grpc.StatusCode.NOT_FOUND, "")


def test_anything_else_is_internal_and_names_only_the_request_id(
    registry: registry_pb2_grpc.RegistryServiceStub,
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        get(registry, "broken")()
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details() == "internal error (request trace-7)"
