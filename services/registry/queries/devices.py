"""Queries of devices and their labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, or_, select, tuple_, update

from services.kit.db import driver_connection
from services.registry.domain import Device, DeviceState
from services.registry.storage import device_labels, devices

# Sort orders a list may ask for, and the columns that make each a total order.
ORDERS = {
    "serial_number": (devices.c.serial_number,),
    "display_name": (devices.c.display_name, devices.c.id),
    "created_at": (devices.c.created_at, devices.c.id),
}


@dataclass(frozen=True)
class DeviceFilter:
    profile_id: str = ""
    state: DeviceState | None = None
    site: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    text: str = ""


def _device(row: Any) -> Device:
    return Device(**{**row._mapping, "state": DeviceState(row.state)})


def add_devices(connection: Connection, new: Sequence[Device]) -> None:
    connection.execute(insert(devices), [{**vars(d), "state": d.state.value} for d in new])
    _insert_labels(connection, new)


def _insert_labels(connection: Connection, owners: Sequence[Device]) -> None:
    rows = [
        {"device_id": d.id, "tenant_id": d.tenant_id, "key": key, "value": value}
        for d in owners
        for key, value in d.labels.items()
    ]
    if rows:
        connection.execute(insert(device_labels), rows)


# In the order of Device's fields, so that a row builds a device by position.
_DEVICE_FIELDS = tuple(device_field.name for device_field in fields(Device))
_FIND_DEVICES_PG = f"SELECT {', '.join(_DEVICE_FIELDS)} FROM devices WHERE id = ANY(%(ids)s)"


def find_devices_of(connection: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Device]:
    """The devices of (tenant id, device id) pairs, by pair; one of another tenant is not found."""
    ids = list({device_id for _, device_id in keys})
    if connection.dialect.name == "postgresql":
        # The hottest read of the registry, straight through the driver: a prepared
        # statement and plain tuples, without the result machinery around them.
        rows = driver_connection(connection).execute(_FIND_DEVICES_PG, {"ids": ids}, prepare=True)
        found = [Device(*row[:_STATE], DeviceState(row[_STATE]), *row[_STATE + 1 :]) for row in rows]
    else:
        found = [_device(row) for row in connection.execute(select(devices).where(devices.c.id.in_(ids)))]
    return {(device.tenant_id, device.id): device for device in found}


_STATE = _DEVICE_FIELDS.index("state")


def find_device(connection: Connection, tenant_id: str, device_id: str) -> Device | None:
    return find_devices_of(connection, [(tenant_id, device_id)]).get((tenant_id, device_id))


def find_devices(connection: Connection, device_ids: Iterable[str]) -> list[Device]:
    return [
        _device(row) for row in connection.execute(select(devices).where(devices.c.id.in_(set(device_ids))))
    ]


def devices_by_serial(connection: Connection, tenant_id: str, serials: Iterable[str]) -> dict[str, Device]:
    query = select(devices).where(devices.c.tenant_id == tenant_id, devices.c.serial_number.in_(set(serials)))
    return {row.serial_number: _device(row) for row in connection.execute(query)}


def taken_serials(connection: Connection, tenant_id: str, serials: Iterable[str]) -> set[str]:
    query = select(devices.c.serial_number).where(
        devices.c.tenant_id == tenant_id, devices.c.serial_number.in_(set(serials))
    )
    return set(connection.execute(query).scalars())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(tenant_id: str, wanted: DeviceFilter) -> list[Any]:
    conditions = [devices.c.tenant_id == tenant_id]
    if wanted.profile_id:
        conditions.append(devices.c.profile_id == wanted.profile_id)
    if wanted.state is not None:
        conditions.append(devices.c.state == wanted.state.value)
    if wanted.site:
        conditions.append(devices.c.site == wanted.site)
    for key, value in wanted.labels.items():
        conditions.append(
            exists().where(
                device_labels.c.device_id == devices.c.id,
                device_labels.c.key == key,
                device_labels.c.value == value,
            )
        )
    if wanted.text:
        prefix = _escape_like(wanted.text.lower()) + "%"
        conditions.append(
            or_(
                func.lower(devices.c.serial_number).like(prefix, escape="\\"),
                func.lower(devices.c.display_name).like(prefix, escape="\\"),
            )
        )
    return conditions


def list_devices(
    connection: Connection,
    tenant_id: str,
    wanted: DeviceFilter,
    order: str,
    descending: bool,
    after: list[Any] | None,
    limit: int,
) -> list[Device]:
    columns = ORDERS[order]
    conditions = _conditions(tenant_id, wanted)
    if after is not None:
        position, keys = tuple_(*columns), tuple_(*after)
        conditions.append(position < keys if descending else position > keys)
    ordering = [c.desc() if descending else c.asc() for c in columns]
    query = select(devices).where(and_(*conditions)).order_by(*ordering).limit(limit)
    return [_device(row) for row in connection.execute(query)]


def count_devices(connection: Connection, tenant_id: str, wanted: DeviceFilter, up_to: int = 0) -> int:
    """How many devices match, or `up_to` + 1 when more than `up_to` do (0: no bound)."""
    if not up_to:
        query = select(func.count()).select_from(devices).where(and_(*_conditions(tenant_id, wanted)))
        return connection.execute(query).scalar_one()
    matching = select(devices.c.id).where(and_(*_conditions(tenant_id, wanted))).limit(up_to + 1).subquery()
    return connection.execute(select(func.count()).select_from(matching)).scalar_one()


# Never changed by an update: keys, and what readings and connections move meanwhile.
_NOT_SAVED = ("id", "tenant_id", "created_at", "last_seen_at", "connected_until")


def save_device(connection: Connection, device: Device, expected_version: int) -> bool:
    """Stores a changed device if it is still at `expected_version`; replaces its labels."""
    values = {k: v for k, v in vars(device).items() if k not in _NOT_SAVED}
    result = connection.execute(
        update(devices)
        .where(
            devices.c.id == device.id,
            devices.c.tenant_id == device.tenant_id,
            devices.c.version == expected_version,
        )
        .values(**{**values, "state": device.state.value})
    )
    if result.rowcount != 1:
        return False
    connection.execute(delete(device_labels).where(device_labels.c.device_id == device.id))
    _insert_labels(connection, [device])
    return True


def record_seen(connection: Connection, last_seen: dict[str, datetime]) -> None:
    """Moves each device's last-seen time forward, never back, in one statement.

    Not a change of the device as its owner edits it, so its version stays.
    """
    if not last_seen:
        return
    connection.execute(
        update(devices)
        .where(
            devices.c.id == bindparam("device_id"),
            or_(devices.c.last_seen_at.is_(None), devices.c.last_seen_at < bindparam("seen_at")),
        )
        .values(last_seen_at=bindparam("seen_at")),
        [{"device_id": device_id, "seen_at": seen_at} for device_id, seen_at in last_seen.items()],
    )


def activate_provisioned(
    connection: Connection, device_ids: Iterable[str], now: datetime
) -> list[tuple[str, str, int]]:
    """Makes the provisioned devices among `device_ids` active; returns (id, tenant, version) of each."""
    result = connection.execute(
        update(devices)
        .where(devices.c.id.in_(set(device_ids)), devices.c.state == DeviceState.PROVISIONED.value)
        .values(state=DeviceState.ACTIVE.value, version=devices.c.version + 1, updated_at=now)
        .returning(devices.c.id, devices.c.tenant_id, devices.c.version)
    )
    return [tuple(row) for row in result]
