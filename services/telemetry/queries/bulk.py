"""Readings written in bulk: PostgreSQL's binary COPY straight into the readings table,
a merge that skips the keys stored already, and, on SQLite, a plain insert that does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection, select

from services.kit.batches import AcceptedBatch, utc_of
from services.kit.db import driver_connection, insert_ignoring_duplicates
from services.kit.events import Event
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


def merge(connection: Connection, batches: Sequence[AcceptedBatch]) -> None:
    driver = driver_connection(connection)
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE incoming_readings (LIKE readings INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    copy(driver, "incoming_readings", batches)
    with driver.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO readings ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM incoming_readings "
            "ON CONFLICT DO NOTHING"
        )


def insert_skipping_duplicates(connection: Connection, batches: Sequence[AcceptedBatch]) -> None:
    records = [dict(zip(COLUMNS, row, strict=True)) for batch in batches for row in rows(batch)]
    insert_ignoring_duplicates(connection, readings, records)


def unannounced(connection: Connection, events: list[Event], merged: bool) -> list[Event]:
    """The events not in the outbox yet: a batch delivered again was announced already
    if it had been stored."""
    if not merged and connection.dialect.name == "postgresql":
        return events
    outbox = metadata.tables["outbox"]
    query = select(outbox.c.id).where(outbox.c.id.in_([e.id for e in events]))
    known = set(connection.execute(query).scalars())
    return [e for e in events if e.id not in known]
