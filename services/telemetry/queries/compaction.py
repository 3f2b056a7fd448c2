"""Compacted days in the database: a closed day partition of readings turned into one
chunk per device, the chunks read back as rows, and rewritten when late readings come.

A day partition is compacted under an ACCESS EXCLUSIVE lock; every writing transaction
first takes ROW EXCLUSIVE locks on the day partitions its batches touch and then asks
which of those days have chunks (`compacted_days`). So a writer either commits its rows
before a compaction reads the partition, or sees the chunks the compaction committed and
writes into them: a reading is never stored both in rows and in a chunk. On PostgreSQL
only (day partitions); elsewhere nothing is compacted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import NamedTuple

import numpy as np
from sqlalchemy import Connection, Row, and_, or_, select, text, tuple_

from services.kit.batches import EPOCH
from services.kit.db import conflict_aware_insert
from services.telemetry.chunks import ChunkRows, chunk_rows, compress, decompress
from services.telemetry.queries.partitions import day_partition
from services.telemetry.storage import compacted_readings

MICROSECOND = timedelta(microseconds=1)
DAY = timedelta(days=1)
# (device number, tier, UTC day): one chunk.
ChunkKey = tuple[int, int, date]


class StoredRow(NamedTuple):
    """A row of readings, hot or from a chunk."""

    ts: datetime
    retention_days: int
    channel_set: int
    vals: bytes


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def micros(ts: datetime) -> int:
    return (ts - EPOCH) // MICROSECOND


def compacted_days(connection: Connection, tier_days: Iterable[tuple[int, date]]) -> set[tuple[int, date]]:
    """Of these (tier, day)s, those compacted, once their day partitions are locked against
    compaction until the transaction ends."""
    wanted = sorted(set(tier_days))
    if connection.dialect.name != "postgresql" or not wanted:
        return set()
    partitions = ", ".join(day_partition(tier, day) for tier, day in wanted)
    connection.execute(text(f"LOCK TABLE {partitions} IN ROW EXCLUSIVE MODE"))
    table = compacted_readings.c
    query = (
        select(table.retention_days, table.day)
        .where(
            or_(*(and_(table.retention_days == tier, table.day == day_start(day)) for tier, day in wanted))
        )
        .distinct()
    )
    return {(tier, day.date()) for tier, day in connection.execute(query)}


def locked_chunks(connection: Connection, keys: Iterable[ChunkKey]) -> dict[ChunkKey, ChunkRows]:
    """The chunks of these keys that exist, locked until the transaction ends."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    table = compacted_readings.c
    query = (
        select(table.device_number, table.retention_days, table.day, table.data)
        .where(
            tuple_(table.device_number, table.retention_days, table.day).in_(
                [(number, tier, day_start(day)) for number, tier, day in wanted]
            )
        )
        .order_by(table.device_number, table.retention_days, table.day)
        .with_for_update()
    )
    rows = connection.execute(query)
    return {(number, tier, day.date()): decompress(data) for number, tier, day, data in rows}


def write_chunks(connection: Connection, chunks: dict[ChunkKey, ChunkRows]) -> None:
    if not chunks:
        return
    statement = conflict_aware_insert(connection, compacted_readings)
    statement = statement.on_conflict_do_update(
        index_elements=["device_number", "retention_days", "day"],
        set_={"rows": statement.excluded.rows, "data": statement.excluded.data},
    )
    records = [
        {
            "device_number": number,
            "retention_days": tier,
            "day": day_start(day),
            "rows": len(rows.vals),
            "data": compress(rows),
        }
        for (number, tier, day), rows in sorted(chunks.items())
    ]
    connection.execute(statement, records)


def compact_day(connection: Connection, tier: int, day: date) -> int:
    """Moves the rows of a day partition of readings into its devices' chunks (merged
    into the chunks they have already); returns the rows moved."""
    partition = day_partition(tier, day)
    connection.execute(text(f"LOCK TABLE {partition} IN ACCESS EXCLUSIVE MODE"))
    devices = connection.execute(text(f"SELECT DISTINCT device_number FROM {partition}")).scalars().all()
    held = locked_chunks(connection, [(number, tier, day) for number in devices])
    moved = 0
    for number in sorted(devices):
        rows = connection.execute(
            text(f"SELECT ts, channel_set, vals FROM {partition} WHERE device_number = :n ORDER BY ts"),
            {"n": number},
        ).all()
        moved += len(rows)
        hot = chunk_rows([micros(ts) for ts, _, _ in rows], [s for _, s, _ in rows], [v for _, _, v in rows])
        write_chunks(connection, {(number, tier, day): merged(held.get((number, tier, day)), hot)})
    connection.execute(text(f"TRUNCATE {partition}"))
    return moved


def merged(chunk: ChunkRows | None, rows: ChunkRows) -> ChunkRows:
    """The rows of a chunk and other rows of other times, in time order."""
    if chunk is None:
        return rows
    order = np.argsort(np.concatenate((chunk.ts_us, rows.ts_us)), kind="stable")
    vals = [*chunk.vals, *rows.vals]
    return ChunkRows(
        np.concatenate((chunk.ts_us, rows.ts_us))[order],
        np.concatenate((chunk.set_ids, rows.set_ids))[order],
        [vals[i] for i in order.tolist()],
    )


def days_of(connection: Connection, device_number: int, start: datetime, end: datetime) -> list[Row]:
    """The (day, tier) of the device's chunks holding [start, end), in order; none but on
    PostgreSQL."""
    if connection.dialect.name != "postgresql":
        return []
    table = compacted_readings.c
    query = (
        select(table.day, table.retention_days)
        .where(table.device_number == device_number, table.day > start - DAY, table.day < end)
        .order_by(table.day, table.retention_days)
    )
    return list(connection.execute(query))


def rows_of_days(
    connection: Connection, device_number: int, days: list[Row], start: datetime, end: datetime
) -> Iterator[list[StoredRow]]:
    """The device's rows in [start, end) of its chunks of `days`, a day at a time, by time
    and tier."""
    for day, tiers in groupby(days, key=lambda row: row.day):
        rows = [
            row for _, tier in tiers for row in _chunk_rows(connection, device_number, tier, day, start, end)
        ]
        yield sorted(rows, key=lambda row: (row.ts, row.retention_days))


def _chunk_rows(
    connection: Connection, device_number: int, tier: int, day: datetime, start: datetime, end: datetime
) -> list[StoredRow]:
    table = compacted_readings.c
    data = connection.execute(
        select(table.data).where(
            table.device_number == device_number, table.retention_days == tier, table.day == day
        )
    ).scalar_one()
    rows = decompress(data)
    first, last = np.searchsorted(rows.ts_us, [micros(start), micros(end)])
    stamps = rows.ts_us[first:last].tolist()
    set_ids = rows.set_ids[first:last].tolist()
    return [
        StoredRow(EPOCH + timedelta(microseconds=ts), tier, set_id, vals)
        for ts, set_id, vals in zip(stamps, set_ids, rows.vals[first:last], strict=True)
    ]


def closed_days(connection: Connection, before: datetime) -> list[tuple[int, date]]:
    """The (tier, day) partitions of readings whose day ended by `before` and that hold rows."""
    if connection.dialect.name != "postgresql":
        return []
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_inherits t ON t.inhrelid = i.inhparent "
            "WHERE t.inhparent = CAST('readings' AS regclass)"
        )
    ).scalars()
    days = []
    for name in names:
        _, tier, day_text = name.rsplit("_", 2)
        day = datetime.strptime(day_text, "%Y%m%d").date()
        if day_start(day) + DAY <= before:
            days.append((int(tier.removeprefix("r")), day))
    held = [(tier, day) for tier, day in sorted(days) if _holds_rows(connection, day_partition(tier, day))]
    return held


def _holds_rows(connection: Connection, partition: str) -> bool:
    return connection.execute(text(f"SELECT EXISTS (SELECT 1 FROM {partition})")).scalar_one()
