"""Events are committed with their change and reach the bus even when the broker was down."""

from __future__ import annotations

from datetime import timedelta

import orjson
from sqlalchemy import select

from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.registry import storage
from services.registry.usecases.profiles import Profiles
from tests.integration.conftest import CapturedEvents
from tests.support.registry import insert_tenant

UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1/"


def test_events_wait_in_the_outbox_until_the_broker_is_back(
    database_url: str, topology: Topology, captured: CapturedEvents, publisher: ConfirmingPublisher
) -> None:
    upgrade("registry", database_url)
    broken = Store(
        "registry", storage.metadata, ConfirmingPublisher(UNREACHABLE_BROKER, topology), url=database_url
    )
    tenant_id = insert_tenant(broken)
    Profiles(broken.unit_of_work).create(
        tenant_id, {"name": "Press", "channels": [{"key": "force", "value_type": "float"}]}
    )
    broken.close()
    assert captured.drain() == []

    healthy = Store("registry", storage.metadata, publisher, url=database_url)
    with healthy.engine.connect() as connection:
        pending = connection.execute(select(storage.metadata.tables["outbox"].c.published_at)).scalars().all()
    assert pending == [None]

    assert healthy.relay.relay_pending(min_age=timedelta(0)) == 1
    assert healthy.relay.relay_pending(min_age=timedelta(0)) == 0
    messages = captured.drain()
    assert [orjson.loads(body)["tenant_id"] for _, body in messages] == [tenant_id]
    healthy.close()
