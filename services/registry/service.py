"""The registry's use cases: one function per command or query, one transaction each."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError

from services.kit.db import UnitOfWork
from services.kit.errors import AlreadyExists, NotFound, Unauthenticated
from services.kit.events import new_event
from services.kit.validation import load, require_uuid, text
from services.registry import storage
from services.registry.domain import (
    Device,
    DeviceState,
    IssuedApiKey,
    SizeClass,
    Tenant,
    TenantStatus,
    issue_api_key,
    parse_api_key,
    secret_matches,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CreateTenant(Schema):
    name = text(200)
    country = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="must be an ISO 3166-1 alpha-2 code")
    )
    size_class = fields.Enum(SizeClass, by_value=True, required=True)


class RegisterDevice(Schema):
    serial_number = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$", error="1-64 letters, digits or ._:/-"
        ),
    )
    display_name = text(200)


class Registry:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def create_tenant(self, request: dict) -> tuple[Tenant, IssuedApiKey]:
        command = load(CreateTenant(), request)
        now = self._clock()
        tenant = Tenant(
            str(uuid.uuid4()),
            command["name"],
            command["country"],
            command["size_class"],
            TenantStatus.ACTIVE,
            now,
            now,
        )
        issued = issue_api_key(str(uuid.uuid4()), tenant.id, "admin", ("admin",), now)
        with self._unit_of_work() as uow:
            storage.add_tenant(uow.connection, tenant)
            storage.add_api_key(uow.connection, issued.key)
            uow.emit(
                new_event(
                    "tenant.created",
                    tenant.id,
                    {
                        "name": tenant.name,
                        "country": tenant.country,
                        "size_class": tenant.size_class.value,
                    },
                )
            )
            uow.commit()
        return tenant, issued

    def get_tenant(self, tenant_id: str) -> Tenant:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        with self._unit_of_work() as uow:
            tenant = storage.find_tenant(uow.connection, tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        return tenant

    def authenticate_api_key(self, presented: str) -> tuple[str, str, tuple[str, ...]]:
        """(tenant id, key id, scopes) of a usable key of an active tenant."""
        key_id, secret = parse_api_key(presented)
        with self._unit_of_work() as uow:
            key = storage.find_api_key(uow.connection, key_id)
            tenant = key and storage.find_tenant(uow.connection, key.tenant_id)
        if key is None or not secret_matches(key, secret) or not key.usable_at(self._clock()):
            raise Unauthenticated("unknown, revoked or expired API key")
        if tenant is None or tenant.status is not TenantStatus.ACTIVE:
            raise Unauthenticated("tenant is suspended")
        return key.tenant_id, key.id, key.scopes

    def register_device(self, tenant_id: str, request: dict) -> Device:
        command = load(RegisterDevice(), request)
        tenant_id = require_uuid(tenant_id, "tenant_id")
        now = self._clock()
        device = Device(
            str(uuid.uuid4()),
            tenant_id,
            command["serial_number"],
            command["display_name"],
            DeviceState.PROVISIONED,
            1,
            now,
            now,
        )
        with self._unit_of_work() as uow:
            if storage.find_tenant(uow.connection, tenant_id) is None:
                raise NotFound("tenant not found")
            try:
                storage.add_device(uow.connection, device)
            except IntegrityError:
                raise AlreadyExists(f"serial number {device.serial_number!r} is already registered") from None
            uow.emit(
                new_event(
                    "device.registered",
                    tenant_id,
                    {
                        "device_id": device.id,
                        "serial_number": device.serial_number,
                        "display_name": device.display_name,
                        "state": device.state.value,
                    },
                )
            )
            uow.commit()
        return device

    def get_device(self, tenant_id: str, device_id: str) -> Device:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        device_id = require_uuid(device_id, "device_id")
        with self._unit_of_work() as uow:
            device = storage.find_device(uow.connection, tenant_id, device_id)
        if device is None:
            raise NotFound("device not found")
        return device
