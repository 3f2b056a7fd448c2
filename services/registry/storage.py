"""The registry's tables and the queries its use cases make."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
)

from services.kit.db import UtcDateTime, new_metadata
from services.registry.domain import ApiKey, Device, DeviceState, SizeClass, Tenant, TenantStatus

metadata = new_metadata()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("size_class", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("serial_number", String(64), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("tenant_id", "serial_number", name="uq_devices_tenant_serial"),
)


def add_tenant(connection: Connection, tenant: Tenant) -> None:
    connection.execute(insert(tenants).values(**vars(tenant)))


def find_tenant(connection: Connection, tenant_id: str) -> Tenant | None:
    row = connection.execute(select(tenants).where(tenants.c.id == tenant_id)).mappings().first()
    if row is None:
        return None
    return Tenant(
        **{**row, "size_class": SizeClass(row["size_class"]), "status": TenantStatus(row["status"])}
    )


def add_api_key(connection: Connection, key: ApiKey) -> None:
    connection.execute(insert(api_keys).values(**{**vars(key), "scopes": list(key.scopes)}))


def find_api_key(connection: Connection, key_id: str) -> ApiKey | None:
    row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
    if row is None:
        return None
    return ApiKey(**{**row, "scopes": tuple(row["scopes"])})


def add_device(connection: Connection, device: Device) -> None:
    connection.execute(insert(devices).values(**vars(device)))


def find_device(connection: Connection, tenant_id: str, device_id: str) -> Device | None:
    query = select(devices).where(devices.c.id == device_id, devices.c.tenant_id == tenant_id)
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return Device(**{**row, "state": DeviceState(row["state"])})
