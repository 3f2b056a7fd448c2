"""Rollups in the database: added to as readings are stored, read for series."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Over,
    Select,
    case,
    column,
    extract,
    func,
    select,
    table,
    type_coerce,
)

from services.kit.batches import Scalar, utc_of
from services.kit.db import UtcDateTime, conflict_aware_insert, driver_connection
from services.telemetry.rollups import Aggregate, Rollups
from services.telemetry.storage import rollups

# The columns of first and last a value type's values are kept in: float -> first_float.
KIND_COLUMNS = {"float": "float", "int": "int", "bool": "bool", "string": "text", "enum": "text"}
KEY = ("device_id", "channel", "resolution", "bucket", "retention_days")
_TYPED = tuple(f"{end}_{kind}" for end in ("first", "last") for kind in ("float", "int", "bool", "text"))


COLUMNS = tuple(column.name for column in rollups.c)
_COPY_TYPES = (
    "uuid", "text", "int4", "timestamptz", "int2", "int8", "float8", "float8", "float8", "float8",
    "timestamptz", "timestamptz", *(("float8", "int8", "bool", "text") * 2),
)  # fmt: skip
# Where a flush's aggregates are copied before one statement adds them to the rollups.
_INCOMING = table("incoming_rollups", *(column(name) for name in COLUMNS))


def add(connection: Connection, added: Rollups) -> None:
    """Adds aggregates to their rollups, in a stable order against deadlocks between
    writers: on PostgreSQL copied into a session's temporary table, then added by one
    statement; elsewhere row by row."""
    if not added:
        return
    devices: dict[str, uuid.UUID] = {}
    rows = [
        _row(key, aggregate, devices) for key, aggregate in sorted(added.items(), key=lambda item: item[0])
    ]
    if connection.dialect.name != "postgresql":
        statement = conflict_aware_insert(connection, rollups)
        connection.execute(
            _adding(connection, statement), [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        )
        return
    driver = driver_connection(connection)
    with driver.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_rollups (LIKE rollups) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY incoming_rollups ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
    ordered = select(_INCOMING).order_by(*(_INCOMING.c[k] for k in KEY))
    connection.execute(
        _adding(connection, conflict_aware_insert(connection, rollups).from_select(COLUMNS, ordered))
    )


def _adding(connection: Connection, statement: Any) -> Any:
    """`statement` (an INSERT into rollups in the connection's dialect) adding to the
    rollups its rows meet."""
    table, new = rollups, statement.excluded
    least, greatest = (
        (func.least, func.greatest) if connection.dialect.name == "postgresql" else (func.min, func.max)
    )
    earlier, later = new.first_ts < table.c.first_ts, new.last_ts > table.c.last_ts
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            "count": table.c.count + new.count,
            "sum": table.c.sum + new.sum,
            "sumsq": table.c.sumsq + new.sumsq,
            "min": least(table.c.min, new.min),
            "max": greatest(table.c.max, new.max),
            "first_ts": least(table.c.first_ts, new.first_ts),
            "last_ts": greatest(table.c.last_ts, new.last_ts),
            **{
                name: case((earlier if name.startswith("first") else later, new[name]), else_=table.c[name])
                for name in _TYPED
            },
        },
    )


def series(
    dialect: str,
    device_id: uuid.UUID,
    channel: str,
    value_type: str,
    resolution: int,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    aggregates: Sequence[str],
) -> Select:
    """A series as `readings.series` gives it, from the rollups of `resolution`: one row
    per bucket holding a rollup, every aggregate a window over the bucket's rollups."""
    table = rollups
    bucket = bucket_start(dialect, bucket_seconds, int(start.timestamp()), table.c.bucket)
    over = windowed(bucket, table.c.first_ts)
    kind = KIND_COLUMNS[value_type]
    columns = {
        "count": over(func.sum(table.c.count)),
        "min": over(func.min(table.c.min)),
        "max": over(func.max(table.c.max)),
        "avg": over(func.sum(table.c.sum)) / over(func.sum(table.c.count)),
        "first": over(func.first_value(table.c[f"first_{kind}"])),
        # The latest of the rollups' last readings.
        "last": over(func.first_value(table.c[f"last_{kind}"]), table.c.last_ts.desc()),
    }
    where = (
        table.c.device_id == device_id,
        table.c.channel == channel,
        table.c.resolution == resolution,
        table.c.bucket >= start,
        table.c.bucket < end,
    )
    return one_row_per_bucket(bucket, over, {name: columns[name] for name in aggregates}, where)


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


def _row(
    key: tuple[tuple[str, str, int], int, int], aggregate: Aggregate, devices: dict[str, uuid.UUID]
) -> tuple[Any, ...]:
    """The aggregate as a row of rollups, in COLUMNS' order; `devices` keeps the ids parsed."""
    (device_id, channel, retention_days), resolution, start_ms = key
    device = devices.get(device_id)
    if device is None:
        device = devices[device_id] = uuid.UUID(device_id)
    return (
        device,
        channel,
        resolution,
        utc_of(start_ms),
        retention_days,
        aggregate.count,
        aggregate.sum,
        aggregate.sumsq,
        aggregate.min,
        aggregate.max,
        utc_of(aggregate.first_ts),
        utc_of(aggregate.last_ts),
        *_typed(aggregate.first),
        *_typed(aggregate.last),
    )


def _typed(value: Scalar) -> tuple[Scalar | None, ...]:
    """The value in the column of its type: float, int, bool or text."""
    kind = value.__class__
    return tuple(value if kind is column_type else None for column_type in (float, int, bool, str))
