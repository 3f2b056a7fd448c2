"""The SQL of devices' measured capacity: the newest measurement of each device."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from services.kit.db import conflict_aware_insert
from services.marketplace.storage import measured_capacity


def keep_newest(connection: Connection, row: dict[str, Any]) -> None:
    """Stores the device's measurement unless one measured at the same time or later is
    stored: events may arrive out of order, and an older one must not undo a newer."""
    statement = conflict_aware_insert(connection, measured_capacity)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[measured_capacity.c.device_id],
            set_={name: statement.excluded[name] for name in row if name != "device_id"},
            where=measured_capacity.c.measured_at < statement.excluded.measured_at,
        ),
        row,
    )
