"""Writes of devices' connections to protocol adapters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, case, or_, update

from services.registry.storage import devices

DeviceKey = tuple[str, str]  # (tenant id, device id)


def record_connections(
    connection: Connection, keys: Sequence[DeviceKey], connected_until: datetime | None, now: datetime
) -> int:
    """Marks the devices connected until `connected_until` (None: disconnected) and seen at
    `now`; returns how many were found. Not a change of the device as its owner edits it,
    so its version stays."""
    if not keys:
        return 0
    seen = case(
        (or_(devices.c.last_seen_at.is_(None), devices.c.last_seen_at < now), now),
        else_=devices.c.last_seen_at,
    )
    result = connection.execute(
        update(devices)
        .where(devices.c.id == bindparam("device_id"), devices.c.tenant_id == bindparam("tenant"))
        .values(connected_until=connected_until, last_seen_at=seen),
        [{"tenant": tenant_id, "device_id": device_id} for tenant_id, device_id in keys],
    )
    return max(result.rowcount, 0)
