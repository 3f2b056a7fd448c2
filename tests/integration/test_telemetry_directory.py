"""Telemetry's directory of devices and profiles follows the registry's events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.kit.bus import ConfirmingPublisher
from services.kit.events import Event, new_event
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.usecases.directory import DeviceNotKnownYet, Directory

TENANT = str(uuid.uuid4())
CHANNELS = [{"key": "spindle_temp", "value_type": "float", "unit": "degC", "min": -20.0, "max": 150.0}]


@pytest.fixture
def telemetry_store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    upgrade("telemetry", database_url)
    store = Store("telemetry", storage.metadata, publisher, url=database_url)
    yield store
    store.close()


def registered(device_id: str) -> Event:
    return new_event(
        "device.registered",
        TENANT,
        {
            "device_id": device_id,
            "serial_number": "CNC-1",
            "display_name": "Mill",
            "state": "provisioned",
            "profile_id": "p-1",
            "profile_version": 1,
        },
    )


def state_changed(device_id: str, version: int, previous: str, state: str) -> Event:
    data = {"device_id": device_id, "version": version, "previous_state": previous, "state": state}
    return new_event("device.state_changed", TENANT, data)


def known(store: Store, device_id: str) -> dict:
    with store.engine.connect() as connection:
        row = connection.execute(select(storage.known_devices).where(storage.known_devices.c.id == device_id))
        return dict(row.mappings().one())


def test_the_directory_follows_devices_in_version_order(telemetry_store: Store) -> None:
    telemetry = Directory(telemetry_store.unit_of_work)
    device_id = str(uuid.uuid4())
    telemetry.learn(registered(device_id))
    telemetry.learn(
        new_event(
            "device.updated",
            TENANT,
            {
                "device_id": device_id,
                "version": 2,
                "changed": ["profile_version"],
                "profile_id": "p-1",
                "profile_version": 2,
            },
        )
    )
    telemetry.learn(state_changed(device_id, 4, "active", "suspended"))
    telemetry.learn(
        state_changed(device_id, 3, "provisioned", "active")
    )  # arrives late: older than what is known

    row = known(telemetry_store, device_id)
    assert (row["profile_version"], row["state"], row["state_as_of"]) == (2, "suspended", 4)


def test_a_late_change_of_one_aspect_is_not_lost_to_a_newer_change_of_another(telemetry_store: Store) -> None:
    telemetry = Directory(telemetry_store.unit_of_work)
    device_id = str(uuid.uuid4())
    telemetry.learn(registered(device_id))
    telemetry.learn(state_changed(device_id, 3, "provisioned", "active"))
    telemetry.learn(
        new_event(
            "device.updated",
            TENANT,
            {
                "device_id": device_id,
                "version": 2,
                "changed": ["profile_version"],
                "profile_id": "p-1",
                "profile_version": 2,
            },
        )
    )
    row = known(telemetry_store, device_id)
    assert (row["state"], row["profile_version"]) == ("active", 2)


def test_a_change_before_the_registration_waits_for_redelivery(telemetry_store: Store) -> None:
    telemetry = Directory(telemetry_store.unit_of_work)
    device_id = str(uuid.uuid4())
    early = state_changed(device_id, 2, "provisioned", "active")
    with pytest.raises(DeviceNotKnownYet):
        telemetry.learn(early)
    telemetry.learn(registered(device_id))
    assert telemetry.learn(early) is True
    assert known(telemetry_store, device_id)["state"] == "active"


def test_published_profile_versions_are_kept_once(telemetry_store: Store) -> None:
    telemetry = Directory(telemetry_store.unit_of_work)
    published = new_event(
        "profile.published", TENANT, {"profile_id": "p-9", "version": 1, "channels": CHANNELS}
    )
    assert telemetry.learn(published) is True
    assert telemetry.learn(published) is False
    with telemetry_store.engine.connect() as connection:
        rows = connection.execute(select(storage.known_profile_versions)).mappings().all()
    assert [(r["profile_id"], r["version"], r["channels"]) for r in rows] == [("p-9", 1, CHANNELS)]
