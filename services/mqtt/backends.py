"""The registry and telemetry over gRPC, as the adapter needs them: who a token is, where a
device's readings and attributes go. Failures become two kinds: what the device sent was
refused (`Refusal`), or the platform could not answer (`Unavailable`)."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from cachetools import TTLCache
from gantry.v1 import registry_pb2, registry_pb2_grpc, telemetry_pb2, telemetry_pb2_grpc
from google.protobuf import json_format, struct_pb2

from services.kit import settings
from services.kit.logs import REQUEST_ID_HEADER, current_request_id
from services.kit.thingsboard_provisioning import ProvisionRequest
from services.mqtt.domain.payloads import AttributesRequest
from services.mqtt.ingest_lots import IngestLots

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 5.0
MAX_TOKEN_LENGTH = 512
# What the device sent was refused; any other code means the platform could not answer.
_REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNAUTHENTICATED,
}

_CODES = {code.value[0]: code for code in grpc.StatusCode}
# The most messages one telemetry call carries.
INGEST_LOT_REQUESTS = 500

Reply = TypeVar("Reply")


class Unavailable(Exception):
    """A backend did not answer, or failed: nothing the device sent is known to be kept."""


class Rejected(Exception):
    """A backend refused what the device sent; the message says why."""


@dataclass(frozen=True)
class Device:
    tenant_id: str
    device_id: str
    credential_id: str
    state: int

    @property
    def accepts_data(self) -> bool:
        return self.state in (registry_pb2.DEVICE_STATE_PROVISIONED, registry_pb2.DEVICE_STATE_ACTIVE)


@dataclass(frozen=True)
class Call:
    """A server-side RPC taken for delivery to its device."""

    rpc_id: str
    method: str
    params_json: str


@dataclass(frozen=True)
class Ingested:
    accepted: int
    rejected: int
    # The first rejections, for the log.
    reasons: tuple[str, ...]


class Backends:
    """Channels opened on the event loop that uses them: asyncio channels belong to it."""

    def __init__(self, auth_cache_seconds: float, ingest_calls: int) -> None:
        # False records a rejected token, so that guessing tokens costs no registry calls.
        self._tokens: TTLCache[str, Device | bool] = TTLCache(maxsize=100_000, ttl=auth_cache_seconds)
        self._channels: list[grpc.aio.Channel] = []
        self._ingest_calls = ingest_calls

    def open(self) -> None:
        registry = grpc.aio.insecure_channel(settings.grpc_target("registry"))
        telemetry = grpc.aio.insecure_channel(settings.grpc_target("telemetry"))
        self._channels = [registry, telemetry]
        self.registry = registry_pb2_grpc.RegistryServiceStub(registry)
        self.telemetry = telemetry_pb2_grpc.TelemetryServiceStub(telemetry)
        self._lots = IngestLots(
            functools.partial(_call, self.telemetry.IngestJsonMany), self._ingest_calls, INGEST_LOT_REQUESTS
        )

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    async def authenticate(self, token: str, fresh: bool = False) -> Device | None:
        """The device of an access token, None for an unknown, revoked or expired one;
        `fresh` asks the registry rather than trusting what it answered lately."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        if fresh or (known := self._tokens.get(key)) is None:
            known = await self._resolve(token)
            self._tokens[key] = known
        return known or None

    def forget(self, device_id: str | None = None) -> None:
        """Drops what the cache knows of a device's tokens (of every device without one),
        once the registry said it changed."""
        stale = [
            key
            for key, known in self._tokens.items()
            if device_id is None or (isinstance(known, Device) and known.device_id == device_id)
        ]
        for key in stale:
            self._tokens.pop(key, None)

    async def ingest(self, device: Device, payload: bytes) -> Ingested:
        request = telemetry_pb2.IngestJsonRequest(
            tenant_id=device.tenant_id,
            format=telemetry_pb2.JSON_FORMAT_THINGSBOARD,
            device_id=device.device_id,
            body=payload,
        )
        outcome = await self._lots.ingest(request)
        if outcome.HasField("error"):
            raise _failure(grpc.StatusCode(_CODES[outcome.error.code]), outcome.error.message)
        result = outcome.response
        reasons = tuple(
            f"{r.channel or f'[{r.sample_index}]'}: {telemetry_pb2.RejectionReason.Name(r.reason)} {r.detail}"
            for r in result.rejections[:5]
        )
        return Ingested(result.accepted, result.rejected, reasons)

    async def report_attributes(self, device: Device, attributes: dict[str, Any]) -> None:
        values = struct_pb2.Struct()
        try:
            values.update(attributes)
        except (ValueError, TypeError) as error:
            raise Rejected(f"attributes that cannot be kept: {error}") from None
        request = registry_pb2.ReportClientAttributesRequest(
            tenant_id=device.tenant_id, device_id=device.device_id, attributes=values
        )
        await _call(self.registry.ReportClientAttributes, request)

    async def attributes(self, device: Device, wanted: AttributesRequest) -> tuple[dict, dict]:
        """The device's client and shared attributes, all or the keys `wanted`."""
        request = registry_pb2.GetDeviceAttributesRequest(
            tenant_id=device.tenant_id,
            device_id=device.device_id,
            client_keys=wanted.client_keys,
            shared_keys=wanted.shared_keys,
        )
        found = await _call(self.registry.GetDeviceAttributes, request)
        return json_format.MessageToDict(found.client), json_format.MessageToDict(found.shared)

    async def report_connections(
        self, connected: list[tuple[str, str]], disconnected: list[tuple[str, str]], lease_seconds: int
    ) -> None:
        """Tells the registry which devices (tenant id, device id) connected or went away."""
        request = registry_pb2.ReportConnectionsRequest(
            connected=[registry_pb2.DeviceRef(tenant_id=t, device_id=d) for t, d in connected],
            disconnected=[registry_pb2.DeviceRef(tenant_id=t, device_id=d) for t, d in disconnected],
            lease_seconds=lease_seconds,
        )
        await _call(self.registry.ReportConnections, request)

    async def claim_rpcs(self, device: Device, rpc_ids: list[str]) -> list[Call]:
        """Takes the device's RPCs awaiting delivery (of `rpc_ids`, or all), each only once."""
        request = registry_pb2.ClaimRpcsRequest(
            tenant_id=device.tenant_id, device_id=device.device_id, rpc_ids=rpc_ids
        )
        claimed = await _call(self.registry.ClaimRpcs, request)
        return [Call(rpc.id, rpc.method, rpc.params_json) for rpc in claimed.rpcs]

    async def answer_rpc(self, device: Device, rpc_id: str, response_json: str) -> None:
        request = registry_pb2.AnswerRpcRequest(
            tenant_id=device.tenant_id, device_id=device.device_id, rpc_id=rpc_id, response_json=response_json
        )
        await _call(self.registry.AnswerRpc, request)

    async def machines(self, gateway: Device, names: list[str]) -> dict[str, Device]:
        """The machines an edge gateway names, by name, registered on first mention."""
        request = registry_pb2.ResolveGatewayDevicesRequest(
            tenant_id=gateway.tenant_id, gateway_device_id=gateway.device_id, names=names
        )
        found = await _call(self.registry.ResolveGatewayDevices, request)
        return {
            d.name: Device(gateway.tenant_id, d.device_id, gateway.credential_id, d.state)
            for d in found.devices
        }

    async def provision(self, wanted: ProvisionRequest) -> registry_pb2.ProvisionDeviceResponse:
        """The registry's answer to a device provisioning itself: a status, and its token."""
        return await _call(self.registry.ProvisionDevice, wanted.message())

    async def _resolve(self, token: str) -> Device | bool:
        request = registry_pb2.AuthenticateDeviceRequest(access_token=token)
        try:
            identity = await _call(self.registry.AuthenticateDevice, request)
        except Rejected:
            return False
        return Device(identity.tenant_id, identity.device_id, identity.credential_id, identity.state)


async def _call(method: Callable[..., Awaitable[Reply]], request: Any) -> Reply:
    try:
        return await method(
            request, timeout=CALL_TIMEOUT_SECONDS, metadata=((REQUEST_ID_HEADER, current_request_id()),)
        )
    except grpc.aio.AioRpcError as error:
        raise _failure(error.code(), error.details()) from None


def _failure(code: grpc.StatusCode, details: str | None) -> Rejected | Unavailable:
    if code in _REFUSALS:
        return Rejected(details or code.name)
    log.warning("backend call failed", extra={"code": code.name, "details": details})
    return Unavailable(code.name)
