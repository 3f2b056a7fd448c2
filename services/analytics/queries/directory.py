"""Reads and writes of analytics's directory: its copy of the registry's devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from services.analytics.queries.revisions import next_revision
from services.analytics.storage import known_devices
from services.kit.db import insert_ignoring_duplicates

REVISION = "devices"


@dataclass(frozen=True)
class KnownDevice:
    id: str
    tenant_id: str
    profile_id: str
    state: str
    labels: dict[str, str]
    attributes: dict[str, Any]


def add_known_device(connection: Connection, device: KnownDevice) -> None:
    row = {**vars(device), "details_as_of": 1, "state_as_of": 1}
    insert_ignoring_duplicates(
        connection, known_devices, [{**row, "revision": next_revision(connection, REVISION)}]
    )


def update_known_device(
    connection: Connection, device_id: str, version: int, aspect: str, **changes: object
) -> bool:
    """Sets the `aspect` ("state" or "details") of a device as of the registry's `version`,
    unless a newer one is known; False when the device is unknown."""
    if connection.execute(select(known_devices.c.id).where(known_devices.c.id == device_id)).first() is None:
        return False
    as_of = known_devices.c[f"{aspect}_as_of"]
    connection.execute(
        update(known_devices)
        .where(known_devices.c.id == device_id, as_of < version)
        .values(
            {
                as_of: version,
                known_devices.c.revision: next_revision(connection, REVISION),
                **{known_devices.c[k]: v for k, v in changes.items()},
            }
        )
    )
    return True


def devices_changed_since(connection: Connection, revision: int) -> tuple[list[KnownDevice], int]:
    """Devices added or changed after `revision`, and the newest revision among them (or
    `revision` when none changed)."""
    query = (
        select(known_devices).where(known_devices.c.revision > revision).order_by(known_devices.c.revision)
    )
    rows = connection.execute(query).mappings().all()
    newest = rows[-1]["revision"] if rows else revision
    return [_device(row) for row in rows], newest


def _device(row: Any) -> KnownDevice:
    return KnownDevice(
        row["id"], row["tenant_id"], row["profile_id"], row["state"], row["labels"], row["attributes"]
    )
