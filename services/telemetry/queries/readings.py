"""The statements telemetry's queries read readings with, on PostgreSQL and SQLite alike.
Readings are read along the primary key (device_id, channel, ts, ...): one index range
per channel."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    FromClause,
    Over,
    Row,
    Select,
    String,
    and_,
    extract,
    false,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)

from services.kit.db import UtcDateTime
from services.telemetry.domain import ChannelValue
from services.telemetry.storage import readings

# The column each value type is stored in.
VALUE_COLUMNS = {
    "float": readings.c.float_value,
    "int": readings.c.int_value,
    "bool": readings.c.bool_value,
    "string": readings.c.text_value,
    "enum": readings.c.text_value,
}
_STORED_VALUES = ("float_value", "int_value", "bool_value", "text_value")
_READING_COLUMNS = (readings.c.channel, readings.c.ts, *(readings.c[name] for name in _STORED_VALUES))
_WINDOW_FUNCTIONS = {
    "min": func.min,
    "max": func.max,
    "avg": func.avg,
    "count": func.count,
    "first": func.first_value,
    "last": func.last_value,
}

# What a device reads while telemetry does not know its profile version yet.
_NO_READINGS = select(*_READING_COLUMNS).where(false())

After = tuple[datetime, str]


def _of_channel(
    device_id: uuid.UUID, channel: str | ColumnElement[str], table: FromClause = readings
) -> ColumnElement[bool]:
    return and_(table.c.device_id == device_id, table.c.channel == channel)


def in_order(
    device_id: uuid.UUID,
    channels: Sequence[str],
    start: datetime,
    end: datetime,
    after: After | None,
    limit: int | None,
) -> Select:
    """The readings of `channels` in [start, end) past `after`, by time then channel.

    Merged from one index range per channel, each already in time order: a page reads
    at most `limit` rows of each channel, where filtering the device's readings by
    time would sort the whole range on every page. Channels are ranked in code point
    order here rather than by the database's collation, so that the cursor (compared
    in Python) and the order agree.
    """
    if not channels:
        return _NO_READINGS
    ranges = [
        select(
            select(*_READING_COLUMNS, literal(rank).label("rank"))
            .where(_of_channel(device_id, channel), readings.c.ts >= start, readings.c.ts < end)
            .where(*_past(channel, after))
            .order_by(readings.c.ts)
            .limit(limit)
            .subquery()
        )
        for rank, channel in enumerate(channels)
    ]
    merged = union_all(*ranges).subquery()
    return (
        select(*(merged.c[c.name] for c in _READING_COLUMNS))
        .order_by(merged.c.ts, merged.c.rank)
        .limit(limit)
    )


def _past(channel: str, after: After | None) -> list[ColumnElement[bool]]:
    """A channel's readings after the cursor: later in time, or at its time in a later channel."""
    if after is None:
        return []
    ts, after_channel = after
    return [readings.c.ts > ts if channel <= after_channel else readings.c.ts >= ts]


def latest(device_id: uuid.UUID, channels: Sequence[str]) -> Select:
    """The latest reading of each channel, in one query on both backends: the time of a
    channel's latest is a max() along its index (one descent, as a LATERAL join would do
    on PostgreSQL; SQLite has none), then its row is found by its key."""
    if not channels:
        return _NO_READINGS
    keys = union_all(*(select(literal(channel, String).label("channel")) for channel in channels)).subquery()
    newest = readings.alias("newest")
    latest_ts = select(func.max(newest.c.ts)).where(_of_channel(device_id, keys.c.channel, newest))
    latest = select(keys.c.channel, latest_ts.scalar_subquery().label("ts")).subquery()
    return (
        select(*_READING_COLUMNS)
        .join(latest, and_(readings.c.channel == latest.c.channel, readings.c.ts == latest.c.ts))
        .where(readings.c.device_id == device_id)
    )


def series(
    dialect: str,
    device_id: uuid.UUID,
    channel: str,
    value: Column[Any],
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    aggregates: Sequence[str],
) -> Select:
    """One row per bucket holding a reading. Every aggregate is a window function over the
    bucket's readings in time order (first and last need that order, which GROUP BY
    cannot keep on both backends), read from each bucket's first row."""
    bucket = bucket_start(dialect, bucket_seconds, _origin(start, bucket_seconds), readings.c.ts)
    over = windowed(bucket, readings.c.ts)
    columns = {name: over(_WINDOW_FUNCTIONS[name](value)) for name in aggregates}
    where = (_of_channel(device_id, channel), readings.c.ts >= start, readings.c.ts < end, value.is_not(None))
    return one_row_per_bucket(bucket, over, columns, where)


def windowed(bucket: ColumnElement[datetime], order: Any) -> Callable[..., Over]:
    """A function over the rows of each bucket, in `order` unless told another."""

    def over(function: Any, by: Any = order) -> Over:
        return function.over(partition_by=bucket, order_by=by, rows=(None, None))

    return over


def one_row_per_bucket(
    bucket: ColumnElement[datetime],
    over: Callable[..., Over],
    columns: dict[str, ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
) -> Select:
    """The `columns` (window functions of the buckets made with `over`) of each bucket,
    read from its first row."""
    subquery = (
        select(
            bucket.label("start"),
            over(func.row_number()).label("nth"),
            *(c.label(n) for n, c in columns.items()),
        )
        .where(*where)
        .subquery()
    )
    return (
        select(subquery.c.start, *(subquery.c[name] for name in columns))
        .where(subquery.c.nth == 1)
        .order_by(subquery.c.start)
    )


def _origin(start: datetime, bucket_seconds: int) -> int:
    """The start of the bucket holding `start`, in seconds since the epoch: a multiple of
    the bucket at or before every reading of the series."""
    return math.floor(start.timestamp()) // bucket_seconds * bucket_seconds


def bucket_start(
    dialect: str, bucket_seconds: int, origin: int, time: ColumnElement[datetime]
) -> ColumnElement[datetime]:
    """The start of the bucket of a row whose time is `time`. Binning from `origin`
    rather than from the epoch keeps the division on non-negative numbers, where
    truncation is the floor."""
    if dialect == "postgresql":
        width = timedelta(seconds=bucket_seconds)
        return func.date_bin(width, time, func.to_timestamp(origin), type_=UtcDateTime())
    # SQLite keeps times as text; extract() renders as strftime('%s'), whole seconds.
    seconds = origin + (extract("epoch", time) - origin) // bucket_seconds * bucket_seconds
    return type_coerce(func.datetime(seconds, "unixepoch"), UtcDateTime())


def stored_value(row: Row) -> float | int | bool | str:
    """The value of a reading, typed by the one column of it that is set."""
    return next(value for value in (getattr(row, name) for name in _STORED_VALUES) if value is not None)


def channel_value(row: Row) -> ChannelValue:
    return ChannelValue(row.channel, row.ts, stored_value(row))
