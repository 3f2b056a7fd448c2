"""Closed days compacted on PostgreSQL: their rows leave the readings table for one chunk
per device and day; readings that come afterwards, late or again, are stored once, in
the chunks, and the rollups stay exact. (The query suite runs against compacted days in
test_telemetry_queries.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.kit.batches import AcceptedBatch, Scalar, utc_of
from services.kit.bus import ConfirmingPublisher
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.usecases.bulk import BulkWriter
from services.telemetry.usecases.compaction import compact_closed_days
from tests.integration.test_telemetry_rollups import assert_rollups_match
from tests.support.backends import postgres_database
from tests.support.telemetry import stored_readings, telemetry_store

TENANT = str(uuid.uuid4())
START = datetime(2026, 3, 1, 22, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
NOW = datetime.now(UTC)

values = st.fixed_dictionaries(
    {},
    optional={
        "temp": st.floats(-50, 150, allow_nan=False).map(lambda v: round(v, 3)),
        # Most such floats are no short decimal: raw doubles.
        "ratio": st.floats(-1e6, 1e6),
        "count": st.integers(-(2**40), 2**40),
        "door": st.booleans(),
        "mode": st.sampled_from(["idle", "cutting", "Ωmega"]),
    },
)
# Over three UTC days at a coarse step, so that readings meet now and then.
samples = st.lists(
    st.tuples(st.integers(0, 2 * 86_400 // 37).map(lambda n: START_MS + n * 37_000), values), min_size=1
)
# Rounds of batches of either device (each sent once more when asked), with a compaction
# after every round.
rounds = st.lists(
    st.lists(st.tuples(st.integers(0, 1), samples, st.booleans()), min_size=1, max_size=4),
    min_size=2,
    max_size=4,
)


@pytest.fixture
def store(publisher: ConfirmingPublisher) -> Iterator[Store]:
    with postgres_database() as url, telemetry_store(url, publisher) as telemetry:
        yield telemetry


def count_of(store: Store, table: storage.Table) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_closed_day_moves_from_rows_into_a_chunk_per_device(store: Store) -> None:
    devices = [str(uuid.uuid4()), str(uuid.uuid4())]
    now_ms = int(NOW.timestamp() * 1000)
    samples = [(START_MS + i * 1000, {"temp": 20 + i % 7 / 4, "count": i // 60}) for i in range(3 * 3600)]
    today = [(now_ms, {"temp": 1.5})]
    BulkWriter(store).store(
        [AcceptedBatch(str(uuid.uuid4()), TENANT, 365, [(d, samples + today) for d in devices])]
    )
    before = stored_readings(store, devices)

    moved = compact_closed_days(store.unit_of_work, NOW)

    assert moved == 2 * len(samples)
    assert stored_readings(store, devices) == before
    # Today is open: its rows stay; the two closed days are a chunk per device each.
    assert count_of(store, storage.readings) == 2
    assert count_of(store, storage.compacted_readings) == 4
    assert compact_closed_days(store.unit_of_work, NOW) == 0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds)
def test_readings_after_compaction_are_stored_once_and_rolled_up_exactly(
    store: Store, history: list[list[tuple[int, list[tuple[int, dict[str, Scalar]]], bool]]]
) -> None:
    devices = [str(uuid.uuid4()), str(uuid.uuid4())]
    writer = BulkWriter(store)
    first: dict[tuple[str, str, datetime], Scalar] = {}
    for batches in history:
        for device, sent, again in batches:
            # The database is the test's: chunks of earlier examples' days count too.
            if count_of(store, storage.compacted_readings):
                event("readings after a compaction")
            batch = AcceptedBatch(str(uuid.uuid4()), TENANT, 365, [(devices[device], sent)])
            for _ in range(2 if again else 1):
                writer.store([batch])
            for ts_ms, sample in sent:
                for channel, value in sample.items():
                    first.setdefault((devices[device], channel, utc_of(ts_ms)), value)
        compact_closed_days(store.unit_of_work, NOW)

    stored = {(str(r.device_id), r.channel, r.ts): r.value for r in stored_readings(store, devices)}
    assert stored == first
    assert len(stored_readings(store, devices)) == len(first)
    assert_rollups_match(store, devices)
