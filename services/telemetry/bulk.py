"""Accepted batches stored in bulk, in one transaction with their `telemetry.batch_stored`
events: PostgreSQL's binary COPY straight into the readings table, and only when a
batch was delivered before (a key already stored) a merge that skips duplicates."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, select

from services.kit.db import driver_connection, insert_ignoring_duplicates
from services.kit.events import Event
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.batches import AcceptedBatch

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS = (
    "device_id",
    "channel",
    "ts",
    "retention_days",
    "float_value",
    "int_value",
    "bool_value",
    "text_value",
)
_COPY_TYPES = ("uuid", "text", "timestamptz", "int2", "float8", "int8", "bool", "text")
_COLUMN_LIST = ", ".join(COLUMNS)

Row = tuple[Any, ...]


def rows(batch: AcceptedBatch) -> Iterator[Row]:
    """The table rows of a batch: one per channel value, the value in its type's column."""
    retention = batch.retention_days
    for device_id, samples in batch.devices:
        device = uuid.UUID(device_id)
        for ts_ms, values in samples:
            ts = EPOCH + timedelta(milliseconds=ts_ms)
            for channel, value in values.items():
                kind = type(value)
                if kind is float:
                    yield (device, channel, ts, retention, value, None, None, None)
                elif kind is int:
                    yield (device, channel, ts, retention, None, value, None, None)
                elif kind is bool:
                    yield (device, channel, ts, retention, None, None, value, None)
                else:
                    yield (device, channel, ts, retention, None, None, None, value)


def days_of(batch: AcceptedBatch) -> set[tuple[int, date]]:
    """The (retention tier, UTC day) partitions the batch's readings go into."""
    return {
        (batch.retention_days, (EPOCH + timedelta(milliseconds=ts_ms)).date())
        for _, samples in batch.devices
        for ts_ms, _ in samples
    }


def batch_stored(batch: AcceptedBatch, at: datetime) -> Event:
    """The batch's event, with an id of its own batch's: stored twice, announced once."""
    devices = []
    for device_id, samples in batch.devices:
        stamps = [ts_ms for ts_ms, _ in samples]
        devices.append(
            {
                "device_id": device_id,
                "count": sum(len(values) for _, values in samples),
                "first_ts": (EPOCH + timedelta(milliseconds=min(stamps))).isoformat(),
                "last_ts": (EPOCH + timedelta(milliseconds=max(stamps))).isoformat(),
            }
        )
    event_id = str(uuid.uuid5(uuid.UUID(batch.id), "telemetry.batch_stored"))
    return Event(event_id, "telemetry.batch_stored", at, batch.tenant_id, {"devices": devices})


class BulkWriter:
    """Stores batches; keeps note of the day partitions it has made sure of."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._partitions: set[tuple[int, date]] = set()

    def store(self, batches: Sequence[AcceptedBatch]) -> None:
        """Stores every reading of `batches` exactly once, with their events."""
        self._ensure_partitions(batches)
        try:
            self._write(batches, merge=False)
        except psycopg.errors.UniqueViolation:
            self._write(batches, merge=True)

    def _write(self, batches: Sequence[AcceptedBatch], merge: bool) -> None:
        now = datetime.now(UTC)
        with self._store.unit_of_work() as uow:
            connection = uow.connection
            if connection.dialect.name != "postgresql":
                _insert_ignoring_duplicates(connection, batches)
            elif merge:
                _merge(connection, batches)
            else:
                _copy(driver_connection(connection), "readings", batches)
            for event in _unannounced(connection, [batch_stored(b, now) for b in batches], merge):
                uow.emit(event)
            uow.commit()

    def _ensure_partitions(self, batches: Sequence[AcceptedBatch]) -> None:
        needed = set().union(*(days_of(b) for b in batches)) - self._partitions
        if not needed:
            return
        with self._store.engine.begin() as connection:
            storage.ensure_day_partitions(connection, needed)
        self._partitions |= needed


def _copy(driver: psycopg.Connection, table: str, batches: Sequence[AcceptedBatch]) -> None:
    statement = f"COPY {table} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(_COPY_TYPES)
        for batch in batches:
            for row in rows(batch):
                copy.write_row(row)


def _merge(connection: Connection, batches: Sequence[AcceptedBatch]) -> None:
    driver = driver_connection(connection)
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE incoming_readings (LIKE readings INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    _copy(driver, "incoming_readings", batches)
    with driver.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO readings ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM incoming_readings "
            "ON CONFLICT DO NOTHING"
        )


def _insert_ignoring_duplicates(connection: Connection, batches: Sequence[AcceptedBatch]) -> None:
    records = [dict(zip(COLUMNS, row, strict=True)) for batch in batches for row in rows(batch)]
    insert_ignoring_duplicates(connection, storage.readings, records)


def _unannounced(connection: Connection, events: list[Event], merge: bool) -> list[Event]:
    """The events not in the outbox yet: a batch delivered again was announced already
    if it had been stored."""
    if not merge and connection.dialect.name == "postgresql":
        return events
    outbox = storage.metadata.tables["outbox"]
    query = select(outbox.c.id).where(outbox.c.id.in_([e.id for e in events]))
    known = set(connection.execute(query).scalars())
    return [e for e in events if e.id not in known]
