"""The registry's gRPC adapter: protobuf in, use case, protobuf out."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc

from services.kit import grpc_server
from services.kit.protos import enum_name, enum_number, timestamp
from services.kit.store import Store
from services.registry.domain import Device, Tenant
from services.registry.service import Registry
from services.registry.storage import metadata


def tenant_message(tenant: Tenant) -> pb.Tenant:
    return pb.Tenant(
        id=tenant.id,
        name=tenant.name,
        country=tenant.country,
        size_class=enum_number(pb.SizeClass, tenant.size_class, "SIZE_CLASS_"),
        status=enum_number(pb.TenantStatus, tenant.status, "TENANT_STATUS_"),
        created_at=timestamp(tenant.created_at),
        updated_at=timestamp(tenant.updated_at),
    )


def device_message(device: Device) -> pb.Device:
    return pb.Device(
        id=device.id,
        tenant_id=device.tenant_id,
        serial_number=device.serial_number,
        display_name=device.display_name,
        state=enum_number(pb.DeviceState, device.state, "DEVICE_STATE_"),
        version=device.version,
        created_at=timestamp(device.created_at),
        updated_at=timestamp(device.updated_at),
    )


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def CreateTenant(
        self, request: pb.CreateTenantRequest, context: grpc.ServicerContext
    ) -> pb.CreateTenantResponse:
        tenant, issued = self.registry.create_tenant(
            {
                "name": request.name,
                "country": request.country,
                "size_class": enum_name(pb.SizeClass, request.size_class, "SIZE_CLASS_"),
            }
        )
        return pb.CreateTenantResponse(tenant=tenant_message(tenant), api_key=issued.secret)

    def GetTenant(self, request: pb.GetTenantRequest, context: grpc.ServicerContext) -> pb.Tenant:
        return tenant_message(self.registry.get_tenant(request.tenant_id))

    def AuthenticateApiKey(
        self, request: pb.AuthenticateApiKeyRequest, context: grpc.ServicerContext
    ) -> pb.ApiKeyIdentity:
        tenant_id, key_id, scopes = self.registry.authenticate_api_key(request.api_key)
        return pb.ApiKeyIdentity(tenant_id=tenant_id, api_key_id=key_id, scopes=scopes)

    def RegisterDevice(self, request: pb.RegisterDeviceRequest, context: grpc.ServicerContext) -> pb.Device:
        device = self.registry.register_device(
            request.tenant_id,
            {"serial_number": request.serial_number, "display_name": request.display_name},
        )
        return device_message(device)

    def GetDevice(self, request: pb.GetDeviceRequest, context: grpc.ServicerContext) -> pb.Device:
        return device_message(self.registry.get_device(request.tenant_id, request.device_id))


def add_servicer(server: grpc.Server, store: Store) -> None:
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(
        RegistryServicer(Registry(store.unit_of_work)), server
    )


if __name__ == "__main__":
    grpc_server.serve_service(
        "registry", metadata, add_servicer, pb.DESCRIPTOR.services_by_name["RegistryService"].full_name
    )
