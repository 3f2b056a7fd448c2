"""Stored readings read back, on PostgreSQL and SQLite alike: a device's rows in time order
along the primary key (device_number, retention_days, ts), a chunk of rows per query,
merged with the rows of its compacted days, their values unpacked here. The latest values are read from the day rollups, which keep
each day's last reading of every channel.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from itertools import chain, islice
from operator import itemgetter

from sqlalchemy import Connection, Row, Select, func, select

from services.kit.batches import Scalar
from services.telemetry.domain import ChannelValue
from services.telemetry.packing import unpack_columns
from services.telemetry.queries import compaction
from services.telemetry.queries.compaction import StoredRow
from services.telemetry.queries.interning import Interned
from services.telemetry.rollups import DAY
from services.telemetry.rules import RETENTION_TIERS
from services.telemetry.storage import readings, rollups

# Rows read per query: at most a few hundred kilobytes; and at least more than an instant
# can have (a row per tier), so that a chunk always ends past the instant it started at.
CHUNK_ROWS = 5000
MIN_CHUNK_ROWS = 2 * len(RETENTION_TIERS) + 1
LAST_VALUES = ("last_float", "last_int", "last_bool", "last_text")

After = tuple[datetime, str]


def stored(
    connection: Connection,
    interned: Interned,
    device_number: int,
    channels: Collection[str],
    start: datetime,
    end: datetime,
    first_chunk: int = CHUNK_ROWS,
) -> Iterator[tuple[datetime, str, Scalar]]:
    """Every (ts, channel, value) of `channels` of the device in [start, end), by time then
    channel in code point order: hot rows and compacted days' rows merged in time order,
    unpacked a batch at a time, from `first_chunk` rows growing to CHUNK_ROWS."""
    for rows in _row_batches(connection, device_number, start, end, first_chunk):
        values = _values(connection, interned, rows, channels)
        for index, row in enumerate(rows):
            if index and row.ts == rows[index - 1].ts:
                continue
            pairs = values[index]
            # Rows of one instant in other tiers: their values merge into channel order.
            more = index + 1
            while more < len(rows) and rows[more].ts == row.ts:
                pairs = sorted([*pairs, *values[more]], key=itemgetter(0))
                more += 1
            for channel, value in pairs:
                yield row.ts, channel, value


def channel_column(
    connection: Connection,
    interned: Interned,
    device_number: int,
    channel: str,
    kind: str,
    start: datetime,
    end: datetime,
) -> tuple[list[datetime], list[Scalar]]:
    """The times and values of one channel of the device in [start, end) stored as `kind`
    (packing.py's f, i, b or s), in time order: a column per batch of rows and channel set."""
    stamps: list[datetime] = []
    values: list[Scalar] = []
    for rows in _row_batches(connection, device_number, start, end, CHUNK_ROWS):
        found: list[tuple[list[int], list[Scalar]]] = []
        for set_id, indexes in _by_set(rows).items():
            channel_set = interned.sets(connection, [set_id])[set_id]
            if (channel, kind) in channel_set:
                position = channel_set.index((channel, kind))
                found.append(
                    (indexes, unpack_columns(channel_set, [rows[i].vals for i in indexes], [position])[0])
                )
        if len(found) == 1 and len(found[0][0]) == len(rows):
            stamps += [row.ts for row in rows]
            values += found[0][1]
            continue
        in_order = sorted(
            (i, value) for indexes, column in found for i, value in zip(indexes, column, strict=True)
        )
        stamps += [rows[i].ts for i, _ in in_order]
        values += [value for _, value in in_order]
    return stamps, values


def _row_batches(
    connection: Connection, device_number: int, start: datetime, end: datetime, first_chunk: int
) -> Iterator[Sequence[StoredRow]]:
    """The device's rows in [start, end) by time and tier, in batches from `first_chunk` rows,
    an instant's rows in one: the hot rows' chunks as read, merged with the rows of the
    compacted days in the range when there are any. Rows are read before chunks, in the
    order the writer makes their day partitions (and locks them)."""
    hot = _hot_rows(connection, device_number, start, end, first_chunk)
    first = next(hot)
    days = compaction.days_of(connection, device_number, start, end)
    if not days:
        yield first
        yield from hot
        return
    rows = chain(first, chain.from_iterable(hot))
    compacted = chain.from_iterable(compaction.rows_of_days(connection, device_number, days, start, end))
    yield from _instants_batched(
        heapq.merge(rows, compacted, key=_row_order), max(first_chunk, MIN_CHUNK_ROWS)
    )


def _by_set(rows: Sequence[StoredRow]) -> dict[int, list[int]]:
    """The indexes of the rows of each channel set."""
    by_set: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        by_set.setdefault(row.channel_set, []).append(index)
    return by_set


def _row_order(row: StoredRow) -> tuple[datetime, int]:
    return row.ts, row.retention_days


def _instants_batched(rows: Iterator[StoredRow], first: int) -> Iterator[list[StoredRow]]:
    """The rows in lists of `first` rows growing to CHUNK_ROWS, an instant's rows in one."""
    batch: list[StoredRow] = []
    size = first
    for row in rows:
        if len(batch) >= size and row.ts != batch[-1].ts:
            yield batch
            batch, size = [], min(size * 4, CHUNK_ROWS)
        batch.append(row)
    if batch:
        yield batch


def _hot_rows(
    connection: Connection, device_number: int, start: datetime, end: datetime, first_chunk: int
) -> Iterator[list[StoredRow]]:
    """The device's rows in [start, end) in the readings table, by time and tier, a chunk
    per query: the last instant of a full chunk is read again with the next one, whole."""
    lower, chunk = start, max(first_chunk, MIN_CHUNK_ROWS)
    while True:
        rows = connection.execute(_chunk(device_number, lower, end, chunk)).all()
        full = len(rows) == chunk
        chunk = min(chunk * 4, CHUNK_ROWS)
        if full:
            lower = rows[-1].ts
            rows = [row for row in rows if row.ts != lower]
        yield rows  # type: ignore[misc]
        if not full:
            return


def _values(
    connection: Connection, interned: Interned, rows: Sequence[StoredRow], channels: Collection[str]
) -> list[list[tuple[str, Scalar]]]:
    """The (channel, value) pairs of `channels` in each row, unpacked a channel set at a time."""
    values: list[list[tuple[str, Scalar]]] = [[] for _ in rows]
    by_set = _by_set(rows)
    sets = interned.sets(connection, by_set)
    for set_id, indexes in by_set.items():
        channel_set = sets[set_id]
        positions = [p for p, (channel, _) in enumerate(channel_set) if channel in channels]
        columns = unpack_columns(channel_set, [rows[i].vals for i in indexes], positions)
        for position, column in zip(positions, columns, strict=True):
            channel = channel_set[position][0]
            for index, value in zip(indexes, column, strict=True):
                values[index].append((channel, value))
    return values


def _chunk(device_number: int, lower: datetime, end: datetime, rows: int) -> Select:
    table = readings.c
    return (
        select(table.ts, table.retention_days, table.channel_set, table.vals)
        .where(table.device_number == device_number, table.retention_days.in_(RETENTION_TIERS))
        .where(table.ts >= lower, table.ts < end)
        .order_by(table.ts, table.retention_days)
        .limit(rows)
    )


def in_order(
    connection: Connection,
    interned: Interned,
    device_number: int | None,
    channels: Sequence[str],
    start: datetime,
    end: datetime,
    after: After | None,
    limit: int | None,
) -> Iterator[ChannelValue]:
    """The readings of `channels` in [start, end) past `after`, by time then channel (in
    code point order, which the cursor, compared in Python, follows too)."""
    if device_number is None or not channels:
        return iter(())
    lower = after[0] if after else start
    found = stored(connection, interned, device_number, set(channels), lower, end, limit or CHUNK_ROWS)
    kept = (reading for reading in found if after is None or reading[:2] > after)
    return (ChannelValue(channel, ts, value) for ts, channel, value in islice(kept, limit))


def latest(device_id: uuid.UUID, channels: Sequence[str]) -> Select:
    """The latest reading of each channel: the last of its latest day rollup, all channels
    in one scan of the device's day rollups."""
    table = rollups.c
    newest_first = func.row_number().over(
        partition_by=table.channel, order_by=(table.bucket.desc(), table.last_ts.desc())
    )
    ranked = (
        select(table.channel, table.last_ts, *(table[n] for n in LAST_VALUES), newest_first.label("nth"))
        .where(table.device_id == device_id, table.resolution == DAY, table.channel.in_(channels))
        .subquery()
    )
    return select(ranked.c.channel, ranked.c.last_ts, *(ranked.c[n] for n in LAST_VALUES)).where(
        ranked.c.nth == 1
    )


def latest_value(row: Row) -> ChannelValue:
    value = next(v for v in (getattr(row, name) for name in LAST_VALUES) if v is not None)
    return ChannelValue(row.channel, row.last_ts, value)
