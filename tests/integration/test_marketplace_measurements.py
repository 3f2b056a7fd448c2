"""marketplace-worker's handler of capacity.measured on SQLite and PostgreSQL: each
device's newest measurement kept, an older one or a redelivery changing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.kit.bus import ConfirmingPublisher
from services.kit.store import Store
from services.marketplace.storage import measured_capacity, measured_hours
from services.marketplace.usecases.capacity import MeasuredCapacities
from tests.support.marketplace import NOW, capacity_measured, marketplace_store


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    with marketplace_store(database_url, publisher) as store:
        yield store


def stored(store: Store) -> list[dict[str, Any]]:
    with store.unit_of_work(read_only=True) as uow:
        return [dict(row._mapping) for row in uow.connection.execute(select(measured_capacity))]


def hours(idle: float) -> list[dict[str, Any]]:
    return [
        {"weekday": d, "hour": h, "producing_seconds": 0.0, "idle_seconds": idle, "down_seconds": 0.0}
        for d in range(7)
        for h in range(24)
    ]


def idle_seconds(store: Store) -> set[float]:
    """The idle seconds of the hours kept of the week, of 168 hours."""
    with store.unit_of_work(read_only=True) as uow:
        kept = list(uow.connection.execute(select(measured_hours.c.idle_seconds)).scalars())
    assert len(kept) == 168
    return set(kept)


def test_the_newest_measurement_of_a_device_is_kept_once(store: Store) -> None:
    tenant, device = str(uuid.uuid4()), str(uuid.uuid4())
    capacities = MeasuredCapacities(store.unit_of_work)
    first = capacity_measured(tenant, device, NOW, oee=None, mtbf_seconds=None)
    assert capacities.learn(first)
    assert stored(store) == [
        {
            "device_id": device,
            "tenant_id": tenant,
            "measured_at": NOW,
            "period_start": NOW - timedelta(weeks=4),
            "period_end": NOW,
            "utilisation": 0.5,
            "idle_hours_per_week": 84.0,
            "oee": None,
            "mtbf_seconds": None,
            "zone": "Asia/Shanghai",
        }
    ]

    newer = capacity_measured(tenant, device, NOW + timedelta(hours=1), idle_hours_per_week=20.0)
    assert capacities.learn(newer)
    older = capacity_measured(
        tenant, device, NOW - timedelta(hours=1), idle_hours_per_week=99.0, zone="UTC", hours=hours(0.0)
    )
    assert capacities.learn(older)  # handled, yet changing nothing, its hours neither
    [row] = stored(store)
    assert (row["measured_at"], row["idle_hours_per_week"], row["oee"]) == (
        NOW + timedelta(hours=1),
        20.0,
        0.6,
    )

    assert not capacities.learn(newer)  # redelivered
    assert stored(store) == [row]
    assert idle_seconds(store) == {1800.0}
