"""Reads and writes of devices' client attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from services.kit.db import insert_ignoring_duplicates
from services.registry.storage import device_client_attributes as table


def client_attributes(connection: Connection, device_id: str, for_update: bool = False) -> dict[str, Any]:
    query = select(table.c.attributes).where(table.c.device_id == device_id)
    found = connection.execute(query.with_for_update() if for_update else query).scalar()
    return found or {}


def lock_client_attributes(connection: Connection, device_id: str, now: datetime) -> dict[str, Any]:
    """The device's client attributes, locked until the transaction ends."""
    # The row exists before it is locked, so that two first reports merge too.
    insert_ignoring_duplicates(
        connection, table, [{"device_id": device_id, "attributes": {}, "updated_at": now}]
    )
    return client_attributes(connection, device_id, for_update=True)


def save_client_attributes(
    connection: Connection, device_id: str, attributes: dict[str, Any], now: datetime
) -> None:
    connection.execute(
        update(table).where(table.c.device_id == device_id).values(attributes=attributes, updated_at=now)
    )
