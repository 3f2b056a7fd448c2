"""The figures of a tenant's overview."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, func, select

from services.analytics.storage import device_activity, known_devices, readings_per_minute


def devices_by_state(connection: Connection, tenant_id: str) -> dict[str, int]:
    query = (
        select(known_devices.c.state, func.count())
        .where(known_devices.c.tenant_id == tenant_id)
        .group_by(known_devices.c.state)
    )
    return {state: count for state, count in connection.execute(query)}


def devices_by_connectivity(connection: Connection, tenant_id: str, online_since: datetime) -> dict[str, int]:
    """Devices with a reading since `online_since` (online), with older ones only (offline),
    and with none (never_seen); decommissioned devices are not counted."""
    seen = device_activity.c.last_reading_at
    connectivity = case(
        (seen.is_(None), "never_seen"), (seen >= online_since, "online"), else_="offline"
    ).label("connectivity")
    query = (
        select(connectivity, func.count())
        .select_from(
            known_devices.outerjoin(device_activity, device_activity.c.device_id == known_devices.c.id)
        )
        .where(known_devices.c.tenant_id == tenant_id, known_devices.c.state != "decommissioned")
        .group_by(connectivity)
    )
    return {name: count for name, count in connection.execute(query)}


def readings_since(connection: Connection, tenant_id: str, since: datetime) -> tuple[int, int]:
    """Readings accepted and rejected in the minutes from `since`."""
    query = select(
        func.coalesce(func.sum(readings_per_minute.c.accepted), 0),
        func.coalesce(func.sum(readings_per_minute.c.rejected), 0),
    ).where(readings_per_minute.c.tenant_id == tenant_id, readings_per_minute.c.minute >= since)
    accepted, rejected = connection.execute(query).one()
    return int(accepted), int(rejected)
