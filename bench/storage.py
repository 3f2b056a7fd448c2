"""Telemetry storage: bytes per reading on disk, on the simulated factory's signals.

MACHINES simulated machines (tools/simulate.py) report their 8 channels every second for
HOURS hours: temperature and power with noise, spindle speed, vibration, an enum mode, a
door flag, part and scrap counters; the factory's silent machine falls quiet now and then.
The readings are stored through telemetry-writer's own path (`BulkWriter`: binary COPY)
in batches of a minute of every machine. After VACUUM, the size of the readings table
(heap, indexes and TOAST of every partition) divided by the readings it holds is printed
beside the 16 bytes of a raw reading (an 8-byte timestamp and an 8-byte value), and the
rollups' share likewise.
Then every day is compacted as telemetry-writer compacts closed days (one zstd chunk per
machine and day), and after VACUUM the compacted readings' bytes (the chunks' table with
its TOAST and key, and what is left in the readings table) per reading are printed too.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

from sqlalchemy import Connection

from services.kit.batches import AcceptedBatch
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.usecases.bulk import BulkWriter
from services.telemetry.usecases.compaction import compact_closed_days
from tests.support.backends import postgres_database
from tests.support.telemetry import stored_count
from tools.simulate import Machine

MACHINES = int(os.environ.get("BENCH_STORAGE_MACHINES", "50"))
HOURS = float(os.environ.get("BENCH_STORAGE_HOURS", "6"))
START_MS = 1_772_323_200_000  # 2026-03-01 00:00 UTC
BATCH_SECONDS = 60
RAW_BYTES = 16
RETENTION_DAYS = 365


def batches() -> Iterator[AcceptedBatch]:
    """A minute of every machine's samples per batch."""
    machines = [(str(uuid.UUID(int=index + 1)), Machine(index)) for index in range(MACHINES)]
    tenant = str(uuid.uuid4())
    for minute_ms in range(START_MS, START_MS + int(HOURS * 3_600_000), BATCH_SECONDS * 1000):
        devices = []
        for device_id, machine in machines:
            samples = [machine.sample(minute_ms + second * 1000) for second in range(BATCH_SECONDS)]
            kept = [(sample["ts"], sample["values"]) for sample in samples if not machine.silent]
            if kept:
                devices.append((device_id, kept))
        yield AcceptedBatch(str(uuid.uuid4()), tenant, RETENTION_DAYS, devices)


def on_disk(connection: Connection, table: str) -> tuple[int, int]:
    """Bytes of a partitioned table's partitions: heap with TOAST, and indexes."""
    heap, indexes = connection.exec_driver_sql(
        "SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid))"
        f" FROM pg_partition_tree('{table}') WHERE isleaf"
    ).one()
    return int(heap), int(indexes)


def run() -> dict:
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        upgrade("telemetry", database_url)
        # The writer's events go to the outbox; nothing here relays them.
        store = Store("telemetry", storage.metadata, lambda messages: None, url=database_url)
        stack.callback(store.close)
        writer = BulkWriter(store)
        started = time.perf_counter()
        for batch in batches():
            writer.store([batch])
        seconds = time.perf_counter() - started
        with store.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("VACUUM ANALYZE readings, rollups")
            heap, indexes = on_disk(connection, "readings")
            rollup_heap, rollup_indexes = on_disk(connection, "rollups")
            rows = connection.exec_driver_sql("SELECT count(*) FROM readings").scalar_one()
        stored = stored_count(store)
        # Every day compacted, as telemetry-writer does once a day has closed.
        started = time.perf_counter()
        compact_closed_days(store.unit_of_work, datetime(2200, 1, 1, tzinfo=UTC))
        compaction_seconds = time.perf_counter() - started
        with store.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql("VACUUM ANALYZE readings, compacted_readings")
            compacted_heap, compacted_indexes = on_disk(connection, "compacted_readings")
            left_heap, left_indexes = on_disk(connection, "readings")
        assert stored_count(store) == stored
    print(
        f"stored {stored:,} readings ({rows:,} rows) of {MACHINES} machines over {HOURS} h in {seconds:.1f} s"
    )
    print(f"compacted in {compaction_seconds:.1f} s")
    figures = {
        "readings": stored,
        "raw_bytes_per_reading": RAW_BYTES,
        "hot_bytes_per_reading": round((heap + indexes) / stored, 1),
        "hot_heap_bytes_per_reading": round(heap / stored, 1),
        "hot_index_bytes_per_reading": round(indexes / stored, 1),
        "compacted_bytes_per_reading": round(
            (compacted_heap + compacted_indexes + left_heap + left_indexes) / stored, 2
        ),
        "compacted_index_bytes_per_reading": round(compacted_indexes / stored, 3),
        "rollup_bytes_per_reading": round((rollup_heap + rollup_indexes) / stored, 1),
    }
    for name, value in figures.items():
        print(f"{name:30} {value}")
    return figures
