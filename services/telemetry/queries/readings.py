"""Stored readings read back, on PostgreSQL and SQLite alike: a device's rows in time order
along the primary key (device_number, retention_days, ts), a chunk of rows per query,
their values unpacked here. The latest values are read from the day rollups, which keep
each day's last reading of every channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import groupby, islice
from operator import itemgetter

from sqlalchemy import Connection, Row, Select, false, literal, select, union_all

from services.telemetry.domain import ChannelValue
from services.telemetry.packing import unpack
from services.telemetry.queries.interning import Interned
from services.telemetry.rollups import DAY
from services.telemetry.rules import RETENTION_TIERS
from services.telemetry.storage import readings, rollups

# Rows read per query. An instant has a row per tier at most, so a chunk always ends
# past the instant it started at.
CHUNK_ROWS = 1000
assert 2 * len(RETENTION_TIERS) < CHUNK_ROWS
LAST_VALUES = ("last_float", "last_int", "last_bool", "last_text")

After = tuple[datetime, str]


def stored(
    connection: Connection, interned: Interned, device_number: int, start: datetime, end: datetime
) -> Iterator[ChannelValue]:
    """Every reading of the device in [start, end), by time then channel in code point
    order, read a chunk of rows at a time: the last instant of a full chunk is read again
    with the next one, whole."""
    lower = start
    while True:
        rows = connection.execute(_chunk(device_number, lower, end)).all()
        full = len(rows) == CHUNK_ROWS
        if full:
            lower = rows[-1].ts
            rows = [row for row in rows if row.ts != lower]
        sets = interned.sets(connection, {row.channel_set for row in rows})
        for ts, at_once in groupby(rows, key=lambda row: row.ts):
            pairs = [pair for row in at_once for pair in unpack(sets[row.channel_set], row.vals)]
            # One row per tier: their values merge into channel order (a tier's are in it already).
            for channel, value in sorted(pairs, key=itemgetter(0)) if len(pairs) > 1 else pairs:
                yield ChannelValue(channel, ts, value)
        if not full:
            return


def _chunk(device_number: int, lower: datetime, end: datetime) -> Select:
    table = readings.c
    return (
        select(table.ts, table.channel_set, table.vals)
        .where(table.device_number == device_number, table.retention_days.in_(RETENTION_TIERS))
        .where(table.ts >= lower, table.ts < end)
        .order_by(table.ts, table.retention_days)
        .limit(CHUNK_ROWS)
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
    wanted = set(channels)
    found = stored(connection, interned, device_number, after[0] if after else start, end)
    kept = (r for r in found if r.channel in wanted and (after is None or (r.ts, r.channel) > after))
    return islice(kept, limit)


def latest(device_id: uuid.UUID, channels: Sequence[str]) -> Select:
    """The latest reading of each channel: the last of its latest day rollup, found in one
    descent of the rollups' key per channel."""
    if not channels:
        return select(rollups.c.channel, rollups.c.last_ts, *(rollups.c[n] for n in LAST_VALUES)).where(
            false()
        )
    table = rollups.c
    newest = [
        select(
            select(literal(channel).label("channel"), table.last_ts, *(table[n] for n in LAST_VALUES))
            .where(table.device_id == device_id, table.channel == channel, table.resolution == DAY)
            .order_by(table.bucket.desc(), table.last_ts.desc())
            .limit(1)
            .subquery()
        )
        for channel in channels
    ]
    return union_all(*newest)


def latest_value(row: Row) -> ChannelValue:
    value = next(v for v in (getattr(row, name) for name in LAST_VALUES) if v is not None)
    return ChannelValue(row.channel, row.last_ts, value)
