"""Telemetry's directory of devices and profiles, kept from the registry's events so that
ingest never waits on another service."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from services.kit.events import Event
from services.telemetry.domain import KnownDevice
from services.telemetry.queries import directory as sql
from services.telemetry.rules import DeviceRules
from services.telemetry.usecases import UnitOfWorkFactory


class Directory:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work

    def device_rules(self, device_id: str) -> DeviceRules | None:
        """The rules readings of the device are checked against; None while telemetry
        does not know the device and its profile version."""
        with self._unit_of_work(read_only=True) as uow:
            return sql.load_device_rules(uow.connection, device_id)

    def learn(self, event: Event) -> bool:
        """Keeps telemetry's directory in step with a registry event; False when the
        event was already handled."""
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
        event.tenant_id,
        data["serial_number"],
        data["state"],
        event.occurred_at,
        data["profile_id"],
        data["profile_version"],
    )
    sql.add_known_device(connection, device)


def _changed(connection: Connection, event: Event) -> None:
    data = event.data
    if event.type == "device.updated":
        aspect, changes = (
            "profile",
            {"profile_id": data["profile_id"], "profile_version": data["profile_version"]},
        )
    else:
        aspect, changes = "state", {"state": data["state"]}
    if not sql.update_known_device(connection, data["device_id"], data["version"], aspect, **changes):
        raise DeviceNotKnownYet(data["device_id"])


def _published(connection: Connection, event: Event) -> None:
    data = event.data
    sql.add_profile_version(
        connection, event.tenant_id, data["profile_id"], data["version"], data["channels"]
    )


_LEARN: dict[str, Callable[[Connection, Event], None]] = {
    "device.registered": _registered,
    "device.updated": _changed,
    "device.state_changed": _changed,
    "device.decommissioned": _changed,
    "profile.published": _published,
}
DIRECTORY_EVENTS = tuple(_LEARN)
