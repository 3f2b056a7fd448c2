"""Telemetry's tables and queries."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Connection, Integer, String, Table, select, update

from services.kit.db import UtcDateTime, insert_ignoring_duplicates, new_metadata
from services.telemetry.domain import KnownDevice

metadata = new_metadata()

# Telemetry's own copy of what it needs from the registry, kept by events, so
# that ingest never waits on another service.
known_devices = Table(
    "known_devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("serial_number", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("profile_version", Integer, nullable=False),
    Column("state_as_of", Integer, nullable=False),
    Column("profile_as_of", Integer, nullable=False),
)

# The channels of every profile version of the registry, which never change once published.
known_profile_versions = Table(
    "known_profile_versions",
    metadata,
    Column("profile_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("channels", JSON, nullable=False),
)


def add_known_device(connection: Connection, device: KnownDevice) -> None:
    insert_ignoring_duplicates(connection, known_devices, [vars(device)])


def update_known_device(
    connection: Connection, device_id: str, version: int, aspect: str, **changes: object
) -> bool:
    """Sets the `aspect` ("state" or "profile") of a device as of the registry's `version`,
    unless a newer one is known; False when the device is unknown."""
    if connection.execute(select(known_devices.c.id).where(known_devices.c.id == device_id)).first() is None:
        return False
    as_of = known_devices.c[f"{aspect}_as_of"]
    connection.execute(
        update(known_devices)
        .where(known_devices.c.id == device_id, as_of < version)
        .values({as_of: version, **{known_devices.c[k]: v for k, v in changes.items()}})
    )
    return True


def add_profile_version(
    connection: Connection, tenant_id: str, profile_id: str, version: int, channels: list
) -> None:
    row = {"profile_id": profile_id, "version": version, "tenant_id": tenant_id, "channels": channels}
    insert_ignoring_duplicates(connection, known_profile_versions, [row])


def find_known_device(connection: Connection, tenant_id: str, device_id: str) -> KnownDevice | None:
    query = select(known_devices).where(
        known_devices.c.id == device_id, known_devices.c.tenant_id == tenant_id
    )
    row = connection.execute(query).mappings().first()
    return KnownDevice(**row) if row else None
