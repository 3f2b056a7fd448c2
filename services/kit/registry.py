"""What other services ask of the registry, the source of truth for who exists and owns
what: whose devices a capacity listing may sell, which tenants exist to be credited,
which channels a profile has for an alarm rule to watch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from gantry.v1 import registry_pb2 as registry_pb
from gantry.v1 import registry_pb2_grpc

from services.kit.errors import Unavailable
from services.kit.logs import REQUEST_ID_HEADER, current_request_id

REGISTRY_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ProfileChannel:
    value_type: str
    # ENUM channels: the values a reading may take.
    allowed_values: tuple[str, ...] = ()


class Registry(Protocol):
    """What a service asks of the registry where a copy kept from events could be stale."""

    def device_belongs(self, tenant_id: str, device_id: str) -> bool: ...

    def tenant_exists(self, tenant_id: str) -> bool: ...

    def profile_channels(self, tenant_id: str, profile_id: str) -> dict[str, ProfileChannel] | None: ...


class RegistryOverGrpc:
    """The registry asked over gRPC: False when it knows no such thing; Unavailable when it
    cannot say, as the same call may then succeed later."""

    def __init__(self, registry: registry_pb2_grpc.RegistryServiceStub) -> None:
        self._registry = registry

    def device_belongs(self, tenant_id: str, device_id: str) -> bool:
        request = registry_pb.GetDeviceRequest(tenant_id=tenant_id, device_id=device_id)
        return self._found(self._registry.GetDevice, request, "device")

    def tenant_exists(self, tenant_id: str) -> bool:
        return self._found(
            self._registry.GetTenant, registry_pb.GetTenantRequest(tenant_id=tenant_id), "tenant"
        )

    def profile_channels(self, tenant_id: str, profile_id: str) -> dict[str, ProfileChannel] | None:
        """The channels of the profile's latest version by key; None when the tenant has
        no such profile."""
        request = registry_pb.GetProfileRequest(tenant_id=tenant_id, profile_id=profile_id)
        profile = self._get(self._registry.GetProfile, request, "profile")
        if profile is None:
            return None
        return {channel.key: _value_type(channel) for channel in profile.channels}

    def _found(self, call: Callable[..., Any], request: Any, what: str) -> bool:
        return self._get(call, request, what) is not None

    def _get(self, call: Callable[..., Any], request: Any, what: str) -> Any:
        try:
            return call(
                request,
                timeout=REGISTRY_TIMEOUT_SECONDS,
                metadata=((REQUEST_ID_HEADER, current_request_id()),),
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(f"the registry could not confirm the {what}; try again") from error


def _value_type(channel: registry_pb.Channel) -> ProfileChannel:
    value_type = registry_pb.ValueType.Name(channel.value_type).removeprefix("VALUE_TYPE_").lower()
    return ProfileChannel(value_type, tuple(channel.allowed_values))
