"""Readings written in bulk: PostgreSQL's binary COPY straight into the readings table,
a merge that skips the keys stored already, and, on SQLite, a plain insert that does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, select

from services.kit.batches import EPOCH, AcceptedBatch, Scalar, utc_of
from services.kit.db import conflict_aware_insert, driver_connection
from services.kit.events import Event
from services.telemetry.rollups import Reading
from services.telemetry.storage import metadata, readings

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
MILLISECOND = timedelta(milliseconds=1)
# The type of each value column, in COLUMNS' order.
_VALUE_TYPES = (float, int, bool, str)
# The type of each value column, in COLUMNS' order.
_VALUE_TYPES = (float, int, bool, str)

Row = tuple[Any, ...]


def rows(batch: AcceptedBatch) -> Iterator[Row]:
    """The table rows of a batch: one per channel value, the value in its type's column."""
    retention = batch.retention_days
    for device_id, samples in batch.devices:
        device = uuid.UUID(device_id)
        for ts_ms, values in samples:
            ts = utc_of(ts_ms)
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


def copy(driver: psycopg.Connection, table: str, batches: Sequence[AcceptedBatch]) -> None:
    statement = f"COPY {table} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copying:
        copying.set_types(_COPY_TYPES)
        for batch in batches:
            for row in rows(batch):
                copying.write_row(row)


def merge(connection: Connection, batches: Sequence[AcceptedBatch]) -> list[Reading]:
    """Stores the readings not stored yet; returns them as stored (of two with one key in
    the batches, the one kept)."""
    driver = driver_connection(connection)
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE incoming_readings (LIKE readings INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    copy(driver, "incoming_readings", batches)
    with driver.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO readings ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM incoming_readings "
            f"ON CONFLICT DO NOTHING RETURNING {_COLUMN_LIST}"
        )
        return [_stored(*row) for row in cursor.fetchall()]


def insert_skipping_duplicates(connection: Connection, batches: Sequence[AcceptedBatch]) -> list[Reading]:
    """Stores the readings not stored yet; returns them as stored."""
    records = [dict(zip(COLUMNS, row, strict=True)) for batch in batches for row in rows(batch)]
    if not records:
        return []
    statement = (
        conflict_aware_insert(connection, readings)
        .on_conflict_do_nothing()
        .returning(*(readings.c[name] for name in COLUMNS))
    )
    return [_stored(*row) for row in connection.execute(statement, records)]


def _stored(
    device_id: uuid.UUID, channel: str, ts: datetime, retention_days: int, *values: Scalar | None
) -> Reading:
    # Typed by its column: SQLite's RETURNING gives a whole float back as an int.
    column, value = next((i, v) for i, v in enumerate(values) if v is not None)
    return (str(device_id), channel, retention_days), (ts - EPOCH) // MILLISECOND, _VALUE_TYPES[column](value)


def unannounced(connection: Connection, events: list[Event], merged: bool) -> list[Event]:
    """The events not in the outbox yet: a batch delivered again was announced already
    if it had been stored."""
    if not merged and connection.dialect.name == "postgresql":
        return events
    outbox = metadata.tables["outbox"]
    query = select(outbox.c.id).where(outbox.c.id.in_([e.id for e in events]))
    known = set(connection.execute(query).scalars())
    return [e for e in events if e.id not in known]
