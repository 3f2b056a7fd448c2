"""Reads and writes of analytics's directory: its copy of the registry's devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select, update

from services.analytics.domain.plant_settings import SettingKind
from services.analytics.queries.revisions import next_revision, rows_changed_since
from services.analytics.storage import known_devices, plant_settings
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
    site: str = ""


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


def find_known_device(connection: Connection, tenant_id: str, device_id: str) -> KnownDevice | None:
    query = select(known_devices).where(
        known_devices.c.id == device_id, known_devices.c.tenant_id == tenant_id
    )
    row = connection.execute(query).mappings().first()
    return _device(row) if row else None


def tenant_has_site(connection: Connection, tenant_id: str, site: str) -> bool:
    query = select(known_devices.c.id).where(
        known_devices.c.tenant_id == tenant_id, known_devices.c.site == site
    )
    return connection.execute(query.limit(1)).first() is not None


def modelled_devices_by_site(connection: Connection, tenant_id: str, site: str | None) -> dict[str, int]:
    """How many of the tenant's devices (of `site`, or all) have a machine model, by
    site, leaving out those decommissioned."""
    query = (
        modelled(select(known_devices.c.site, func.count()))
        .where(known_devices.c.tenant_id == tenant_id)
        .group_by(known_devices.c.site)
    )
    if site is not None:
        query = query.where(known_devices.c.site == site)
    return {found: count for found, count in connection.execute(query)}


def modelled(query: Select[Any]) -> Select[Any]:
    """`query` of known devices narrowed to those whose profile has a machine model and
    that are not decommissioned."""
    models = plant_settings
    return query.join(
        models,
        and_(
            models.c.tenant_id == known_devices.c.tenant_id,
            models.c.kind == SettingKind.MACHINE_MODEL.value,
            models.c.key == known_devices.c.profile_id,
            models.c.deleted.is_(False),
        ),
    ).where(known_devices.c.state != "decommissioned")


def devices_changed_since(connection: Connection, revision: int) -> tuple[list[KnownDevice], int]:
    """Devices added or changed after `revision`, and the newest revision among them (or
    `revision` when none changed)."""
    rows, newest = rows_changed_since(connection, known_devices, revision)
    return [_device(row) for row in rows], newest


def _device(row: Any) -> KnownDevice:
    return KnownDevice(
        row["id"],
        row["tenant_id"],
        row["profile_id"],
        row["state"],
        row["labels"],
        row["attributes"],
        row["site"],
    )


def is_modelled(connection: Connection, tenant_id: str, device_id: str) -> bool:
    """Whether the tenant's device has a machine model and is not decommissioned."""
    query = modelled(select(known_devices.c.id)).where(
        known_devices.c.tenant_id == tenant_id, known_devices.c.id == device_id
    )
    return connection.execute(query.limit(1)).first() is not None
