"""Analytics's directory of devices, kept from the registry's events: which rules watch
a device (its profile and labels) and the per-machine thresholds it carries (its
attributes), so that evaluating a reading never waits on another service."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from services.analytics.queries import directory as sql
from services.analytics.queries.directory import KnownDevice
from services.analytics.usecases import UnitOfWorkFactory
from services.kit.events import Event


class Directory:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def learn(self, event: Event) -> bool:
        """Keeps the directory in step with a registry event; False when the event was
        already handled."""
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            _LEARN[event.type](uow.connection, event)
            uow.commit()
        return True


class DeviceNotKnownYet(Exception):
    """A change of a device arrived before its registration; redelivery will retry it."""


def _registered(connection: Connection, event: Event) -> None:
    data = event.data
    device = KnownDevice(
        data["device_id"],
        event.tenant_id or "",
        data["profile_id"],
        data["state"],
        data.get("labels", {}),
        data.get("attributes", {}),
        data.get("site", ""),
    )
    sql.add_known_device(connection, device)


def _updated(connection: Connection, event: Event) -> None:
    data = event.data
    details = {"profile_id": data["profile_id"]} | {
        key: data[key] for key in ("labels", "attributes", "site") if key in data
    }
    _update(connection, data["device_id"], data["version"], "details", details)


def _state_changed(connection: Connection, event: Event) -> None:
    data = event.data
    _update(connection, data["device_id"], data["version"], "state", {"state": data["state"]})


def _update(connection: Connection, device_id: str, version: int, aspect: str, changes: dict) -> None:
    if not sql.update_known_device(connection, device_id, version, aspect, **changes):
        raise DeviceNotKnownYet(device_id)


_LEARN: dict[str, Callable[[Connection, Event], None]] = {
    "device.registered": _registered,
    "device.updated": _updated,
    "device.state_changed": _state_changed,
    "device.decommissioned": _state_changed,
}
DIRECTORY_EVENTS = tuple(_LEARN)
