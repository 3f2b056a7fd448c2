"""Telemetry's tables and queries."""

from __future__ import annotations

from sqlalchemy import Column, Connection, String, Table, select

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
)


def add_known_device(connection: Connection, device: KnownDevice) -> None:
    insert_ignoring_duplicates(connection, known_devices, [vars(device)])


def find_known_device(connection: Connection, tenant_id: str, device_id: str) -> KnownDevice | None:
    query = select(known_devices).where(
        known_devices.c.id == device_id, known_devices.c.tenant_id == tenant_id
    )
    row = connection.execute(query).mappings().first()
    return KnownDevice(**row) if row else None
