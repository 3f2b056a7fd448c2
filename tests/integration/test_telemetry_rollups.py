"""Rollups stay exact, on SQLite and PostgreSQL: after random ingest histories (batches
delivered again, readings sent twice, late and out of order), every rollup equals the
aggregate of its stored readings, computed here from them; series answered from rollups
equal series answered from readings; the migration rolls up readings stored before it;
expiry drops rollups with their readings."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    SmallInteger,
    String,
    Text,
    Uuid,
    column,
    insert,
    select,
    table,
    text,
)

from services.kit.batches import EPOCH, AcceptedBatch, Scalar
from services.kit.bus import ConfirmingPublisher
from services.kit.db import UtcDateTime
from services.kit.migrate import alembic_config
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.queries.interning import device_number
from services.telemetry.queries.partitions import ensure_day_partitions
from services.telemetry.usecases import retention
from services.telemetry.usecases.bulk import BulkWriter
from services.telemetry.usecases.readings import Readings
from tests.support.columns import batch_in_columns
from tests.support.telemetry import stored_readings, teach_device, telemetry_store

TENANT = str(uuid.uuid4())
START = datetime(2026, 3, 1, 22, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
CHANNELS = [
    {"key": "temp", "value_type": "float"},
    {"key": "count", "value_type": "int"},
    {"key": "door", "value_type": "bool"},
    {"key": "mode", "value_type": "string"},
]
RESOLUTIONS = {60: timedelta(minutes=1), 3600: timedelta(hours=1), 86_400: timedelta(days=1)}
NO_VALUE = dict.fromkeys(("float_value", "int_value", "bool_value", "text_value"))
# Readings as revision 0003 made them, one row per channel value.
READINGS_0003 = table(
    "readings",
    column("device_id", Uuid()),
    column("channel", String()),
    column("ts", UtcDateTime()),
    column("retention_days", SmallInteger()),
    *(
        column(name, kind)
        for name, kind in zip(NO_VALUE, (Double(), BigInteger(), Boolean(), Text()), strict=True)
    ),
)
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

values = st.fixed_dictionaries(
    {},
    optional={
        "temp": st.floats(-50, 150, allow_nan=False).map(lambda v: round(v, 3)),
        "count": st.integers(-(2**40), 2**40),
        "door": st.booleans(),
        "mode": st.sampled_from(["idle", "cutting", "alarm"]),
    },
)
# Times over three UTC days at a coarse step, so that readings collide now and then.
samples = st.lists(st.tuples(st.integers(0, 2 * 86_400 // 37).map(lambda n: START_MS + n * 37_000), values))
# (the devices' samples, which earlier delivery comes again with it, how its readings travel:
# in rows, in columns, or each device's first half in rows and the rest in columns)
deliveries = st.lists(
    st.tuples(
        st.lists(st.tuples(st.integers(0, 1), samples), max_size=2),
        st.integers(0, 2),
        st.sampled_from(["rows", "columns", "both"]),
    )
)


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    with telemetry_store(database_url, publisher) as telemetry:
        yield telemetry


def stored(store: Store, devices: list[str]) -> dict[tuple[Any, ...], list[tuple[datetime, Scalar]]]:
    """Each series' stored readings in time order."""
    series = defaultdict(list)
    for reading in stored_readings(store, devices):
        series[(reading.device_id, reading.channel, reading.retention_days)].append(
            (reading.ts, reading.value)
        )
    return series


def expected_rollups(
    series: dict[tuple[Any, ...], list[tuple[datetime, Scalar]]],
) -> dict[tuple[Any, ...], dict]:
    expected = {}
    for (device, channel, days), readings in series.items():
        for resolution, width in RESOLUTIONS.items():
            buckets = defaultdict(list)
            for ts, value in readings:
                buckets[EPOCH + (ts - EPOCH) // width * width].append((ts, value))
            for bucket, held in buckets.items():
                numbers = [float(v) for _, v in held if type(v) in (int, float)]
                expected[(device, channel, resolution, bucket, days)] = {
                    "count": len(held),
                    "sum": sum(numbers) if numbers else None,
                    "sumsq": sum(n * n for n in numbers) if numbers else None,
                    "min": min(numbers) if numbers else None,
                    "max": max(numbers) if numbers else None,
                    "first_ts": held[0][0],
                    "last_ts": held[-1][0],
                    "first": held[0][1],
                    "last": held[-1][1],
                }
    return expected


def actual_rollups(store: Store, devices: list[str]) -> dict[tuple[Any, ...], dict]:
    table = storage.rollups
    query = select(table).where(table.c.device_id.in_([uuid.UUID(d) for d in devices]))
    actual = {}
    with store.engine.connect() as connection:
        for row in connection.execute(query):
            kind = next(k for k in ("float", "int", "bool", "text") if getattr(row, f"first_{k}") is not None)
            actual[(row.device_id, row.channel, row.resolution, row.bucket, row.retention_days)] = {
                "count": row.count,
                "sum": row.sum,
                "sumsq": row.sumsq,
                "min": row.min,
                "max": row.max,
                "first_ts": row.first_ts,
                "last_ts": row.last_ts,
                "first": getattr(row, f"first_{kind}"),
                "last": getattr(row, f"last_{kind}"),
            }
    return actual


def assert_rollups_match(store: Store, devices: list[str]) -> None:
    expected, actual = expected_rollups(stored(store, devices)), actual_rollups(store, devices)
    assert actual.keys() == expected.keys()
    for key, figures in expected.items():
        numbers = ("sum", "sumsq", "min", "max")
        assert {n: actual[key][n] for n in numbers} == pytest.approx({n: figures[n] for n in numbers}), key
        assert {n: v for n, v in actual[key].items() if n not in numbers} == {
            n: v for n, v in figures.items() if n not in numbers
        }, key


def delivery(
    devices: list[tuple[str, list[tuple[int, dict[str, Scalar]]]]], shape: str
) -> list[AcceptedBatch]:
    """The batches one flush of the writer stores, their readings sent in `shape`."""
    if shape != "both":
        batch = AcceptedBatch(str(uuid.uuid4()), TENANT, 365, devices)
        return [batch_in_columns(batch) if shape == "columns" else batch]
    halves = [[(device, samples[: len(samples) // 2]) for device, samples in devices if len(samples) > 1]]
    halves.append([(device, samples[len(samples) // 2 :]) for device, samples in devices])
    in_rows, later = (AcceptedBatch(str(uuid.uuid4()), TENANT, 365, half) for half in halves)
    return [in_rows, batch_in_columns(later)]


@EXAMPLES
@given(deliveries)
def test_every_rollup_is_the_aggregate_of_its_stored_readings_whatever_came_twice_or_late(
    store: Store, history: list[tuple[list[tuple[int, list[tuple[int, dict[str, Scalar]]]]], int, str]]
) -> None:
    devices = [str(uuid.uuid4()), str(uuid.uuid4())]
    writer, sent = BulkWriter(store), []
    for device_samples, resend, shape in history:
        sent.append(delivery([(devices[d], s) for d, s in device_samples if s], shape))
        writer.store(sent[-1])
        # A delivery again, as after a writer's crash before its acknowledgement.
        if resend and len(sent) > resend:
            writer.store(sent[-1 - resend])

    assert_rollups_match(store, devices)


def test_series_from_rollups_equal_series_from_readings(store: Store) -> None:
    device = teach_device(store, TENANT, channels=CHANNELS)
    samples = [
        (
            START_MS + i * 47_000,
            {"temp": 20 + (i * 7) % 13 / 3, "count": i * 3 % 17, "door": i % 5 == 0, "mode": "idle"},
        )
        for i in range(3000)
    ]
    BulkWriter(store).store([AcceptedBatch(str(uuid.uuid4()), TENANT, 365, [(device, samples)])])
    readings = Readings(store.unit_of_work)
    start, end = START - timedelta(hours=22), START + timedelta(days=2, hours=2)
    for channel in ("temp", "count", "door", "mode"):
        for bucket in (60, 300, 3600, 7200, 86_400):
            from_rollups = readings.query_series(TENANT, device, channel, start, end, bucket, [])
            with store.unit_of_work(read_only=True) as uow:
                value_type = next(c["value_type"] for c in CHANNELS if c["key"] == channel)
                names = list(from_rollups.aggregates)
                number = device_number(uow.connection, device)
                raw = readings.series_from_readings(
                    uow.connection, number, channel, value_type, start, end, bucket, names
                )
            assert [b.start for b in from_rollups.buckets] == [first for first, *_ in raw]
            for got, (_, *figures) in zip(from_rollups.buckets, raw, strict=True):
                for name, want in zip(names, figures, strict=True):
                    assert getattr(got, name) == (pytest.approx(float(want)) if name == "avg" else want), (
                        channel,
                        bucket,
                        name,
                    )


def test_expiry_drops_rollups_with_their_readings(store: Store) -> None:
    device = str(uuid.uuid4())
    old = int((datetime.now(UTC) - timedelta(days=45)).timestamp() * 1000)
    recent = int((datetime.now(UTC) - timedelta(days=5)).timestamp() * 1000)
    batch = AcceptedBatch(
        str(uuid.uuid4()), TENANT, 30, [(device, [(old, {"t": 1.0}), (recent, {"t": 2.0})])]
    )
    BulkWriter(store).store([batch])

    retention.expire(store.unit_of_work, datetime.now(UTC))
    assert_rollups_match(store, [device])
    with store.engine.connect() as connection:
        kept = connection.execute(select(storage.rollups.c.count)).scalars().all()
    assert kept == [1, 1, 1]


def test_the_migration_rolls_up_the_readings_stored_before_it(database_url: str) -> None:
    config = alembic_config("telemetry", database_url)
    command.upgrade(config, "0003")
    store = Store("telemetry", storage.metadata, lambda messages: None, url=database_url)
    device = uuid.uuid4()
    rows = [
        {
            "device_id": device,
            "channel": channel,
            "ts": START + timedelta(seconds=s),
            "retention_days": 90,
            **NO_VALUE,
            **value,
        }
        for s in range(0, 3 * 86_400, 1_301)
        for channel, value in (
            ("t", {"float_value": s / 7}),
            ("n", {"int_value": s % 11}),
            ("m", {"text_value": "x"}),
        )
    ]
    try:
        with store.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                for day in {row["ts"].date() for row in rows}:
                    connection.execute(
                        text(
                            f"CREATE TABLE readings_r90_{day:%Y%m%d} PARTITION OF readings_r90 "
                            f"FOR VALUES FROM ('{day}') TO ('{day + timedelta(days=1)}')"
                        )
                    )
            connection.execute(insert(READINGS_0003), rows)
        command.upgrade(config, "head")
        assert_rollups_match(store, [str(device)])
        with store.engine.begin() as connection:
            # Days made before the migration take new readings' rollups too.
            ensure_day_partitions(connection, {(90, START.date())})
    finally:
        store.close()
