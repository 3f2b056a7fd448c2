"""Telemetry's directory of devices and profiles, kept from the registry's events so that
ingest never waits on another service."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from services.kit.db import UnitOfWork
from services.kit.events import Event
from services.telemetry import storage
from services.telemetry.domain import KnownDevice


class Directory:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

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
    storage.add_known_device(connection, device)


def _changed(connection: Connection, event: Event) -> None:
    data = event.data
    if event.type == "device.updated":
        aspect, changes = (
            "profile",
            {"profile_id": data["profile_id"], "profile_version": data["profile_version"]},
        )
    else:
        aspect, changes = "state", {"state": data["state"]}
    if not storage.update_known_device(connection, data["device_id"], data["version"], aspect, **changes):
        raise DeviceNotKnownYet(data["device_id"])


def _published(connection: Connection, event: Event) -> None:
    data = event.data
    storage.add_profile_version(
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
