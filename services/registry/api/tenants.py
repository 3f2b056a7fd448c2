"""gRPC methods of tenants and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc
from gantry.v1 import registry_pb2 as pb
from google.protobuf.message import Message

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.protos import enum_name
from services.registry.api.messages import (
    api_key_message,
    datetime_or_none,
    mask_paths,
    page_info,
    tenant_message,
    timestamp_fields,
)
from services.registry.domain import TenantStatus
from services.registry.usecases.tenants import ApiKeyIdentity, Tenancy


def request_time(message: Message, field: str) -> datetime | None:
    """A timestamp of a request, or None when unset; InvalidArgument naming `field` when out of range."""
    try:
        return datetime_or_none(message, field)
    except ValueError:
        raise InvalidArgument([FieldViolation(field, "not a valid timestamp")]) from None


def _status(number: int) -> TenantStatus | None:
    name = enum_name(pb.TenantStatus, number, "TENANT_STATUS_")
    return TenantStatus(name) if name else None


def _tenant_fields(request: pb.CreateTenantRequest | pb.UpdateTenantRequest) -> dict[str, Any]:
    return {
        "name": request.name,
        "country": request.country,
        "size_class": enum_name(pb.SizeClass, request.size_class, "SIZE_CLASS_"),
    }


def _identity_message(identity: ApiKeyIdentity) -> pb.ApiKeyIdentity:
    return pb.ApiKeyIdentity(
        tenant_id=identity.tenant_id,
        api_key_id=identity.api_key_id,
        scopes=identity.scopes,
        **timestamp_fields(expires_at=identity.expires_at),
    )


class TenantsApi:
    tenancy: Tenancy

    def CreateTenant(
        self, request: pb.CreateTenantRequest, context: grpc.ServicerContext
    ) -> pb.CreateTenantResponse:
        tenant, secret = self.tenancy.create(_tenant_fields(request))
        return pb.CreateTenantResponse(tenant=tenant_message(tenant), api_key=secret.presented)

    def GetTenant(self, request: pb.GetTenantRequest, context: grpc.ServicerContext) -> pb.Tenant:
        return tenant_message(self.tenancy.get(request.tenant_id))

    def ListTenants(
        self, request: pb.ListTenantsRequest, context: grpc.ServicerContext
    ) -> pb.ListTenantsResponse:
        found, next_cursor, total = self.tenancy.list(
            request.country, _status(request.status), request.page.page_size, request.page.cursor
        )
        return pb.ListTenantsResponse(
            tenants=[tenant_message(t) for t in found], page=page_info(next_cursor, total)
        )

    def UpdateTenant(self, request: pb.UpdateTenantRequest, context: grpc.ServicerContext) -> pb.Tenant:
        fields = {
            **_tenant_fields(request),
            "status": enum_name(pb.TenantStatus, request.status, "TENANT_STATUS_"),
        }
        tenant = self.tenancy.update(request.tenant_id, request.expected_version, mask_paths(request), fields)
        return tenant_message(tenant)

    def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: grpc.ServicerContext
    ) -> pb.CreateApiKeyResponse:
        fields = {
            "name": request.name,
            "scopes": list(request.scopes),
            "expires_at": request_time(request, "expires_at"),
        }
        key, secret = self.tenancy.create_api_key(request.tenant_id, fields)
        return pb.CreateApiKeyResponse(api_key=api_key_message(key), secret=secret.presented)

    def ListApiKeys(
        self, request: pb.ListApiKeysRequest, context: grpc.ServicerContext
    ) -> pb.ListApiKeysResponse:
        found, next_cursor, total = self.tenancy.list_api_keys(
            request.tenant_id, request.page.page_size, request.page.cursor
        )
        return pb.ListApiKeysResponse(
            api_keys=[api_key_message(k) for k in found], page=page_info(next_cursor, total)
        )

    def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context: grpc.ServicerContext) -> pb.ApiKey:
        return api_key_message(self.tenancy.revoke_api_key(request.tenant_id, request.api_key_id))

    def AuthenticateApiKey(
        self, request: pb.AuthenticateApiKeyRequest, context: grpc.ServicerContext
    ) -> pb.ApiKeyIdentity:
        return _identity_message(self.tenancy.authenticate_api_key(request.api_key))
