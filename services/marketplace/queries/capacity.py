"""The SQL of devices' measured capacity: the newest measurement of each device, with the
idle seconds of each of its hours of the week."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from services.kit.db import conflict_aware_insert, insert_ignoring_duplicates
from services.marketplace.domain.capacity import HOUR
from services.marketplace.storage import measured_capacity, measured_hours, zone_hours


def keep_newest(connection: Connection, row: dict[str, Any], hours: Sequence[dict[str, Any]]) -> bool:
    """Stores the device's measurement and its hours unless one measured at the same time
    or later is stored: events may arrive out of order, and an older one must not undo a
    newer. Returns whether it was stored."""
    statement = conflict_aware_insert(connection, measured_capacity)
    stored = connection.execute(
        statement.on_conflict_do_update(
            index_elements=[measured_capacity.c.device_id],
            set_={name: statement.excluded[name] for name in row if name != "device_id"},
            where=measured_capacity.c.measured_at < statement.excluded.measured_at,
        ).returning(measured_capacity.c.device_id),
        row,
    )
    # RETURNING, as rowcount is not told on every backend: no row when a newer is kept.
    if stored.first() is None:
        return False
    device_id = row["device_id"]
    connection.execute(delete(measured_hours).where(measured_hours.c.device_id == device_id))
    connection.execute(insert(measured_hours), [{**hour, "device_id": device_id} for hour in hours])
    return True


def zone_hours_end(connection: Connection, zone: str) -> datetime | None:
    """The end of the last hour of `zone` kept, if any is."""
    last = connection.execute(
        select(func.max(zone_hours.c.starts_at)).where(zone_hours.c.zone == zone)
    ).scalar()
    return None if last is None else last + HOUR


def add_zone_hours(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    insert_ignoring_duplicates(connection, zone_hours, list(rows))


def forget_zone_hours(connection: Connection, zone: str, before: datetime) -> None:
    connection.execute(delete(zone_hours).where(zone_hours.c.zone == zone, zone_hours.c.starts_at < before))
