"""Evaluator partitions flush side by side on PostgreSQL: no row one partition writes is
one another writes too, so a flush never waits for another's to commit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.analytics.partitions import Partition
from services.analytics.queries.evaluation import count_readings
from services.analytics.storage import readings_per_minute
from services.analytics.usecases.evaluation import Evaluation
from services.kit.bus import ConfirmingPublisher
from services.kit.store import Store
from tests.support.access import ManualClock
from tests.support.analytics import ProfileRegistry, analytics_store, batch, teach_device
from tests.support.backends import postgres_database

TENANT = str(uuid.uuid4())
# Far longer than a flush of one reading; reached only if the flush waits on a lock.
FLUSH_WAIT_SECONDS = 30


@pytest.fixture
def postgres_store(publisher: ConfirmingPublisher) -> Iterator[Store]:
    with postgres_database() as url, analytics_store(url, publisher) as store:
        yield store


def device_of(store: Store, profile: str, partition: Partition) -> str:
    while not partition.owns(device := str(uuid.uuid4())):
        pass
    return teach_device(store, TENANT, profile, device_id=device)


def test_a_partition_counts_its_readings_while_another_flush_is_open(
    postgres_store: Store, clock: ManualClock
) -> None:
    first, second = Partition(0, 2), Partition(1, 2)
    device = device_of(postgres_store, ProfileRegistry().profile(TENANT), second)
    minute = clock().replace(second=0, microsecond=0)
    reading = batch(TENANT, (device, [(int(clock().timestamp() * 1000), {"spindle_temp": 20.0})]))
    flushed = threading.Event()
    flush = threading.Thread(
        target=lambda: (
            Evaluation(postgres_store.unit_of_work, clock, second).apply([reading]),
            flushed.set(),
        )
    )
    with postgres_store.engine.connect() as open_flush:
        count_readings(
            open_flush,
            [
                {
                    "tenant_id": TENANT,
                    "minute": minute,
                    "counted_by": first.index,
                    "accepted": 7,
                    "rejected": 0,
                }
            ],
        )
        flush.start()
        flushed.wait(FLUSH_WAIT_SECONDS)
        open_flush.commit()
    flush.join()

    assert flushed.is_set()
    with postgres_store.engine.connect() as connection:
        counts = connection.execute(select(readings_per_minute.c.counted_by, readings_per_minute.c.accepted))
        assert sorted(counts) == [(0, 7), (1, 1)]
