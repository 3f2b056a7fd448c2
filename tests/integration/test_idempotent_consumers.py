"""An event delivered twice has one effect; old messaging records are pruned."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.kit.bus import ConfirmingPublisher
from services.kit.events import new_event
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.usecases.directory import Directory


def test_a_redelivered_event_is_handled_once(database_url: str, publisher: ConfirmingPublisher) -> None:
    upgrade("telemetry", database_url)
    store = Store("telemetry", storage.metadata, publisher, url=database_url)
    directory = Directory(store.unit_of_work)
    event = new_event(
        "device.registered",
        str(uuid.uuid4()),
        {
            "device_id": str(uuid.uuid4()),
            "serial_number": "S-1",
            "display_name": "Mill",
            "state": "provisioned",
            "profile_id": "p",
            "profile_version": 1,
        },
    )

    assert directory.learn(event) is True
    assert directory.learn(event) is False
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(storage.known_devices)).scalar_one() == 1

    assert store.relay.prune(keep=timedelta(days=7)) == 0
    assert store.relay.prune(keep=timedelta(seconds=-1)) == 1
    store.close()
