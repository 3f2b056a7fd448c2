"""Telemetry queries: the latency of a day of one channel of one device in one-minute
buckets, with every aggregate, from a table of READINGS readings on PostgreSQL.

The readings are loaded by binary COPY into the partitioned table over DAYS days, so
that several day partitions hold them. The queried device samples its 10 channels
every second through the queried day (86,400 readings of the channel, across
midnight: two partitions); 99 other devices share the rest of READINGS over all DAYS.
After ANALYZE and a warm-up, `Readings.query_series` (the use case the gRPC call runs)
is timed REPEATS times.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.queries.partitions import ensure_day_partitions
from services.telemetry.usecases.readings import Readings
from tests.support.backends import postgres_database
from tests.support.telemetry import teach_device

READINGS = int(os.environ.get("BENCH_QUERY_READINGS", "10000000"))
REPEATS = int(os.environ.get("BENCH_QUERY_REPEATS", "200"))
CHANNELS = [{"key": f"ch{i}", "value_type": "float"} for i in range(10)]
OTHER_DEVICES = 99
DAYS = 3
RETENTION_DAYS = 365
FIRST_DAY = datetime(2026, 3, 1, tzinfo=UTC)
SERIES_START = FIRST_DAY + timedelta(hours=12)
SERIES_END = SERIES_START + timedelta(days=1)
BUCKET_SECONDS = 60
QUERIED_CHANNEL = "ch3"

Row = tuple[Any, ...]


def device_rows(device_id: uuid.UUID, start: datetime, samples: int, interval: float) -> Iterator[Row]:
    """`samples` readings of every channel, `interval` seconds apart from `start`."""
    for index in range(samples):
        ts = start + timedelta(seconds=index * interval)
        for number, channel in enumerate(CHANNELS):
            yield (device_id, channel["key"], ts, RETENTION_DAYS, float((index * 7 + number) % 997) + 0.5)


def all_rows(queried: uuid.UUID) -> Iterator[Row]:
    """About READINGS rows: the queried device's second by second (at most half of them,
    so that a small run has other devices too), then the others'."""
    seconds = min(86_400, READINGS // (2 * len(CHANNELS)))
    yield from device_rows(queried, SERIES_START, seconds, 1.0)
    samples = (READINGS - seconds * len(CHANNELS)) // (OTHER_DEVICES * len(CHANNELS))
    for _ in range(OTHER_DEVICES if samples else 0):
        yield from device_rows(uuid.uuid4(), FIRST_DAY, samples, DAYS * 86_400 / samples)


def load(store: Store, queried: str) -> float:
    """Copies the rows into `readings`; returns rows per second."""
    days = {(RETENTION_DAYS, (FIRST_DAY + timedelta(days=d)).date()) for d in range(DAYS)}
    started, copied = time.perf_counter(), 0
    with store.engine.begin() as connection:
        ensure_day_partitions(connection, days)
        driver = connection.connection.driver_connection
        statement = (
            "COPY readings (device_id, channel, ts, retention_days, float_value) FROM STDIN (FORMAT BINARY)"
        )
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(("uuid", "text", "timestamptz", "int2", "float8"))
            for row in all_rows(uuid.UUID(queried)):
                copy.write_row(row)
                copied += 1
    return copied / (time.perf_counter() - started)


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
            rows = connection.execute(select(func.count()).select_from(storage.readings)).scalar_one()
        print(f"loaded {rows} readings at {rate:,.0f} rows/s")

        readings = Readings(store.unit_of_work)

        def day_series() -> int:
            series = readings.query_series(
                tenant, device, QUERIED_CHANNEL, SERIES_START, SERIES_END, BUCKET_SECONDS, []
            )
            return len(series.buckets)

        buckets = day_series()
        latencies = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            day_series()
            latencies.append(time.perf_counter() - started)

    latencies.sort()
    figures = {
        "readings": rows,
        "load_readings_per_s": round(rate),
        "series_buckets": buckets,
        "series_median_ms": round(statistics.median(latencies) * 1000, 2),
        "series_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }
    for name, value in figures.items():
        print(f"{name:24} {value}")
    return figures
