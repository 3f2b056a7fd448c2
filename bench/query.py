"""Telemetry queries on PostgreSQL over READINGS readings: a day of one channel of one
device in one-minute buckets with every aggregate, from rollups and from the readings; a
year of that channel in one-day buckets; the device's latest values; and a day of the
channel's raw readings as CSV.

The readings are stored through telemetry-writer's path (`BulkWriter`: packed rows by
binary COPY, and their rollups) over DAYS days, so that several day partitions hold them. The queried device samples its 10 channels
every second through the queried day (86,400 readings of the channel, across
midnight: two partitions); 99 other devices share the rest of READINGS over all DAYS.
The year before the first day holds day rollups of the queried channel only (365 day
partitions of rollups and of readings), loaded directly. After ANALYZE and a warm-up,
each use case (what the gRPC call runs) is timed REPEATS times.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from services.kit.batches import AcceptedBatch
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.queries import rollups as rollup_statements
from services.telemetry.queries.partitions import ensure_day_partitions
from services.telemetry.rollups import DAY, Aggregate, Rollups
from services.telemetry.usecases.bulk import BulkWriter
from services.telemetry.usecases.readings import Readings
from tests.support.backends import postgres_database
from tests.support.telemetry import stored_count, teach_device

READINGS = int(os.environ.get("BENCH_QUERY_READINGS", "10000000"))
REPEATS = int(os.environ.get("BENCH_QUERY_REPEATS", "200"))
CSV_REPEATS = 20
YEAR_DAYS = int(os.environ.get("BENCH_QUERY_YEAR_DAYS", "365"))
CHANNELS = [{"key": f"ch{i}", "value_type": "float"} for i in range(10)]
OTHER_DEVICES = 99
BATCH_SAMPLES = 3600
DAYS = 3
RETENTION_DAYS = 365
FIRST_DAY = datetime(2026, 3, 1, tzinfo=UTC)
SERIES_START = FIRST_DAY + timedelta(hours=12)
SERIES_END = SERIES_START + timedelta(days=1)
BUCKET_SECONDS = 60
QUERIED_CHANNEL = "ch3"


def device_samples(start: datetime, samples: int, interval: float) -> Iterator[tuple[int, dict[str, float]]]:
    """`samples` samples of every channel, `interval` seconds apart from `start`."""
    start_ms = int(start.timestamp() * 1000)
    for index in range(samples):
        ts_ms = start_ms + int(index * interval * 1000)
        yield ts_ms, {c["key"]: float((index * 7 + n) % 997) + 0.5 for n, c in enumerate(CHANNELS)}


def all_samples(queried: str) -> Iterator[tuple[str, Iterator[tuple[int, dict[str, float]]]]]:
    """About READINGS readings: the queried device's second by second (at most half of
    them, so that a small run has other devices too), then the others'."""
    seconds = min(86_400, READINGS // (2 * len(CHANNELS)))
    yield queried, device_samples(SERIES_START, seconds, 1.0)
    samples = (READINGS - seconds * len(CHANNELS)) // (OTHER_DEVICES * len(CHANNELS))
    for _ in range(OTHER_DEVICES if samples else 0):
        yield str(uuid.uuid4()), device_samples(FIRST_DAY, samples, DAYS * 86_400 / samples)


def load(store: Store, queried: str) -> float:
    """Stores the samples through the writer's path (packed rows by binary COPY, with
    their rollups), a batch of BATCH_SAMPLES of a device at a time, and the year of day
    rollups; returns readings per second."""
    days = {(RETENTION_DAYS, (FIRST_DAY + timedelta(days=d)).date()) for d in range(-YEAR_DAYS, DAYS)}
    with store.engine.begin() as connection:
        ensure_day_partitions(connection, days)
    writer, tenant = BulkWriter(store), str(uuid.uuid4())
    started, stored = time.perf_counter(), 0
    for device, samples in all_samples(queried):
        while batch := list(islice(samples, BATCH_SAMPLES)):
            writer.store([AcceptedBatch(str(uuid.uuid4()), tenant, RETENTION_DAYS, [(device, batch)])])
            stored += len(batch) * len(CHANNELS)
    rate = stored / (time.perf_counter() - started)
    with store.engine.begin() as connection:
        rollup_statements.add(connection, year_of_days(queried))
    return rate


def year_of_days(queried: str, days: int = YEAR_DAYS) -> Rollups:
    """Day rollups of the queried channel over the `days` days before the first."""
    series = (queried, QUERIED_CHANNEL, RETENTION_DAYS)
    first_ms = int(FIRST_DAY.timestamp() * 1000)
    return {
        (series, DAY, day_ms): Aggregate(
            86_400, 43_200.0 * day, 1.0e9, 0.5, 996.5, day_ms, 0.5, day_ms + 86_399_000, 9.5
        )
        for day in range(1, days + 1)
        for day_ms in [first_ms - day * 86_400_000]
    }


def run() -> dict:
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        upgrade("telemetry", database_url)
        # Queries publish nothing: no broker needed.
        store = Store("telemetry", storage.metadata, lambda messages: None, url=database_url)
        stack.callback(store.close)
        tenant = str(uuid.uuid4())
        device = teach_device(store, tenant, channels=CHANNELS)
        rate = load(store, device)
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE readings")
            connection.exec_driver_sql("ANALYZE rollups")
        rows = stored_count(store)
        print(f"loaded {rows} readings at {rate:,.0f} readings/s")

        readings = Readings(store.unit_of_work)
        day_from_readings = SERIES_START + timedelta(seconds=1)
        year_start = FIRST_DAY - timedelta(days=YEAR_DAYS)
        timed = {
            "day_1min_rollups": lambda: readings.query_series(
                tenant, device, QUERIED_CHANNEL, SERIES_START, SERIES_END, BUCKET_SECONDS, []
            ),
            # A start off the minute: only the readings can answer.
            "day_1min_readings": lambda: readings.query_series(
                tenant, device, QUERIED_CHANNEL, day_from_readings, SERIES_END, BUCKET_SECONDS, []
            ),
            "year_1day_rollups": lambda: readings.query_series(
                tenant, device, QUERIED_CHANNEL, year_start, FIRST_DAY, 86_400, []
            ),
            "latest": lambda: readings.get_latest(tenant, device),
            "day_raw_csv": lambda: sum(
                len(chunk)
                for chunk in readings.export_csv(tenant, device, [QUERIED_CHANNEL], SERIES_START, SERIES_END)
            ),
        }
        buckets = len(timed["day_1min_rollups"]().buckets)
        assert buckets == len(timed["day_1min_readings"]().buckets)
        assert len(timed["year_1day_rollups"]().buckets) == YEAR_DAYS
        latencies = {
            name: timings(query, REPEATS if name != "day_raw_csv" else CSV_REPEATS)
            for name, query in timed.items()
        }

    figures: dict[str, Any] = {
        "readings": rows,
        "load_readings_per_s": round(rate),
        "series_buckets": buckets,
    }
    for name, measured in latencies.items():
        figures[f"{name}_median_ms"] = round(statistics.median(measured) * 1000, 2)
        figures[f"{name}_p99_ms"] = round(measured[int(len(measured) * 0.99)] * 1000, 2)
    for name, value in figures.items():
        print(f"{name:30} {value}")
    return figures


def timings(query: Callable[[], Any], repeats: int) -> list[float]:
    """Sorted seconds of `repeats` runs of `query`, after one to warm up."""
    query()
    measured = []
    for _ in range(repeats):
        started = time.perf_counter()
        query()
        measured.append(time.perf_counter() - started)
    return sorted(measured)
