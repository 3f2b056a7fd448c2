"""What the marketplace asks of the registry: whose devices a capacity listing may sell,
and which tenants exist to be credited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc
from gantry.v1 import registry_pb2 as registry_pb
from gantry.v1 import registry_pb2_grpc

from services.kit.errors import Unavailable
from services.kit.logs import REQUEST_ID_HEADER, current_request_id

REGISTRY_TIMEOUT_SECONDS = 5.0


class Registry(Protocol):
    """What the marketplace asks of the registry, the source of truth for who exists and
    owns what: it keeps no copy that could go stale."""

    def device_belongs(self, tenant_id: str, device_id: str) -> bool: ...

    def tenant_exists(self, tenant_id: str) -> bool: ...


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

    def _found(self, call: Callable[..., Any], request: Any, what: str) -> bool:
        try:
            call(
                request,
                timeout=REGISTRY_TIMEOUT_SECONDS,
                metadata=((REQUEST_ID_HEADER, current_request_id()),),
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise Unavailable(f"the registry could not confirm the {what}; try again") from error
        return True
