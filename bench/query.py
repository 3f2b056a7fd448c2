"""Telemetry queries on PostgreSQL over READINGS readings: a day of one channel of one
device in one-minute buckets with every aggregate, from rollups and from the readings; a
year of that channel in one-day buckets; the device's latest values; and a day of the
channel's raw readings as CSV.

The readings are loaded straight into the tables (bench/_query_load.py: packed rows by
binary COPY, their rollups aggregated with numpy) over DAYS days, so that several day
partitions hold them. The queried device samples its 10 channels
every second through the queried day (86,400 readings of the channel, across
midnight: two partitions); 99 other devices share the rest of READINGS over all DAYS.
The year before the first day holds day rollups of the queried channel only (365 day
partitions of rollups and of readings), loaded directly. After ANALYZE and a warm-up,
each use case (what the gRPC call runs) is timed REPEATS times (the CSV CSV_REPEATS);
then every day is compacted (telemetry-writer's compaction), the answers are checked to
be the same, and each use case is timed again on the compacted days.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from bench._query_load import device_values, load_device
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.packing import channel_set_of
from services.telemetry.queries import rollups as rollup_statements
from services.telemetry.queries.interning import Interned
from services.telemetry.queries.partitions import ensure_day_partitions
from services.telemetry.rollups import DAY, Aggregate, Rollups
from services.telemetry.usecases.compaction import compact_closed_days
from services.telemetry.usecases.readings import Readings
from tests.support.backends import postgres_database
from tests.support.telemetry import stored_count, teach_device

READINGS = int(os.environ.get("BENCH_QUERY_READINGS", "100000000"))
REPEATS = int(os.environ.get("BENCH_QUERY_REPEATS", "200"))
CSV_REPEATS = 20
YEAR_DAYS = int(os.environ.get("BENCH_QUERY_YEAR_DAYS", "365"))
CHANNELS = [{"key": f"ch{i}", "value_type": "float"} for i in range(10)]
OTHER_DEVICES = 99
DAYS = 3
RETENTION_DAYS = 365
FIRST_DAY = datetime(2026, 3, 1, tzinfo=UTC)
SERIES_START = FIRST_DAY + timedelta(hours=12)
SERIES_END = SERIES_START + timedelta(days=1)
BUCKET_SECONDS = 60
QUERIED_CHANNEL = "ch3"


def devices(queried: str) -> Iterator[tuple[str, int, float, datetime]]:
    """(device, samples, seconds apart, first) making about READINGS readings: the queried
    device's second by second (at most half of them, so that a small run has other
    devices too), then the others'."""
    seconds = min(86_400, READINGS // (2 * len(CHANNELS)))
    yield queried, seconds, 1.0, SERIES_START
    samples = (READINGS - seconds * len(CHANNELS)) // (OTHER_DEVICES * len(CHANNELS))
    for _ in range(OTHER_DEVICES if samples else 0):
        yield str(uuid.uuid4()), samples, DAYS * 86_400 / samples, FIRST_DAY


def load(store: Store, queried: str) -> float:
    """Loads every device's rows and their rollups (bench/_query_load.py), a transaction per
    device, and the year of day rollups; returns readings per second."""
    days = {(RETENTION_DAYS, (FIRST_DAY + timedelta(days=d)).date()) for d in range(-YEAR_DAYS, DAYS)}
    interned = Interned()
    plan = list(devices(queried))
    channel_set = channel_set_of({c["key"]: 0.5 for c in CHANNELS})
    with store.engine.begin() as connection:
        ensure_day_partitions(connection, days)
        numbers = interned.device_numbers(connection, [device for device, *_ in plan])
        set_id = interned.set_ids(connection, [channel_set])[channel_set]
    started, loaded = time.perf_counter(), 0
    for device, samples, interval, first in plan:
        first_ms = int(first.timestamp() * 1000)
        ts_ms = first_ms + (np.arange(samples) * interval * 1000).astype(np.int64)
        with store.engine.begin() as connection:
            load_device(
                connection,
                (device, numbers[device]),
                RETENTION_DAYS,
                (channel_set, set_id),
                ts_ms,
                device_values(samples, len(CHANNELS)),
            )
        loaded += samples * len(CHANNELS)
    rate = loaded / (time.perf_counter() - started)
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
        latencies = {name: timings(query, repeats_of(name)) for name, query in timed.items()}
        hot_answers = {name: query() for name, query in timed.items()}
        started = time.perf_counter()
        compacted_rows = compact_closed_days(store.unit_of_work, datetime.now(UTC))
        compaction_seconds = time.perf_counter() - started
        with store.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        assert {name: query() for name, query in timed.items()} == hot_answers, "compacted answers differ"
        latencies |= {f"compacted_{name}": timings(query, repeats_of(name)) for name, query in timed.items()}

    figures: dict[str, Any] = {
        "readings": rows,
        "load_readings_per_s": round(rate),
        "series_buckets": buckets,
        "compacted_rows": compacted_rows,
        "compaction_rows_per_s": round(compacted_rows / compaction_seconds),
    }
    for name, measured in latencies.items():
        figures[f"{name}_median_ms"] = round(statistics.median(measured) * 1000, 2)
        figures[f"{name}_p99_ms"] = round(measured[int(len(measured) * 0.99)] * 1000, 2)
    for name, value in figures.items():
        print(f"{name:30} {value}")
    return figures


def repeats_of(name: str) -> int:
    return CSV_REPEATS if name == "day_raw_csv" else REPEATS


def timings(query: Callable[[], Any], repeats: int) -> list[float]:
    """Sorted seconds of `repeats` runs of `query`, after one to warm up."""
    query()
    measured = []
    for _ in range(repeats):
        started = time.perf_counter()
        query()
        measured.append(time.perf_counter() - started)
    return sorted(measured)
