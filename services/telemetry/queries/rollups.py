"""Rollups in the database: added to as readings are stored, read for series."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
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
from services.telemetry.array_rollups import ArrayRollups
from services.telemetry.queries.binary_copy import BUCKET_COLUMNS, buckets_copy_data, copy_block
from services.telemetry.rollups import Aggregate, Rollups, combined
from services.telemetry.storage import rollups

# The columns of first and last a value type's values are kept in: float -> first_float.
KIND_COLUMNS = {"float": "float", "int": "int", "bool": "bool", "string": "text", "enum": "text"}
KEY = ("device_id", "channel", "resolution", "bucket", "retention_days")
_TYPED = tuple(f"{end}_{kind}" for end in ("first", "last") for kind in ("float", "int", "bool", "text"))


COLUMNS = tuple(column.name for column in rollups.c)
# Where a flush's rollups wait for the one statement that adds them: its series, numbered,
# and its buckets, each naming its series by number.
_SERIES = table("incoming_rollup_series", *map(column, ("series", "device_id", "channel", "retention_days")))
_BUCKETS = table("incoming_rollup_buckets", *map(column, BUCKET_COLUMNS))
_TEMPORARY_TABLES = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_rollup_series"
    " (series int4, device_id uuid, channel text, retention_days int2) ON COMMIT DELETE ROWS",
    "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_rollup_buckets (series int4, resolution int4,"
    " bucket timestamptz, count int8, sum float8, sumsq float8, min float8, max float8,"
    " first_ts timestamptz, last_ts timestamptz, first_float float8, first_int int8, first_bool bool,"
    " first_text text, last_float float8, last_int int8, last_bool bool, last_text text)"
    " ON COMMIT DELETE ROWS",
)
_SERIES_TYPES = ("int4", "uuid", "text", "int2")
_BUCKET_TYPES = (
    "int4", "int4", "timestamptz", "int8", "float8", "float8", "float8", "float8",
    "timestamptz", "timestamptz", *(("float8", "int8", "bool", "text") * 2),
)  # fmt: skip


def add(connection: Connection, added: Rollups, arrays: ArrayRollups | None = None) -> None:
    """Adds aggregates, and the buckets of `arrays`, to their rollups, in a stable order
    against deadlocks between writers: on PostgreSQL copied into a session's temporary
    tables, the arrays as arrays, then added by one statement; elsewhere row by row."""
    if arrays is not None and (connection.dialect.name != "postgresql" or _overlap(added, arrays)):
        added, arrays = combined(added, arrays.as_rollups()), None
    if connection.dialect.name != "postgresql":
        _add_rows(connection, added)
        return
    # Series numbered in key order, so that buckets in order of series, resolution and start
    # come in one order for every writer, which takes their locks in it.
    series = sorted({*(arrays.series if arrays else ()), *(key for key, _, _ in added)})
    numbers = {key: number for number, key in enumerate(series)}
    rows = [
        (numbers[key], resolution, utc_of(start_ms), *_figures(aggregate))
        for (key, resolution, start_ms), aggregate in added.items()
    ]
    if not rows and not (arrays and arrays.buckets):
        return
    driver = driver_connection(connection)
    with driver.cursor() as cursor:
        for statement in _TEMPORARY_TABLES:
            cursor.execute(statement)
        numbered = ((n, uuid.UUID(device), channel, days) for n, (device, channel, days) in enumerate(series))
        _copy_rows(cursor, _SERIES, _SERIES_TYPES, numbered)
        _copy_rows(cursor, _BUCKETS, _BUCKET_TYPES, rows)
        # A flush's buckets sort in memory; compiling the statement would cost more than it saves.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")
    if arrays and arrays.buckets:
        renumbered = np.array([numbers[key] for key in arrays.series], np.int32)
        statement = f"COPY {_BUCKETS.name} ({', '.join(BUCKET_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        copy_block(driver, statement, buckets_copy_data(arrays.buckets, renumbered))
    connection.execute(
        _adding(connection, conflict_aware_insert(connection, rollups).from_select(COLUMNS, _incoming()))
    )


def _overlap(added: Rollups, arrays: ArrayRollups) -> bool:
    """Whether some series has aggregates in both: one statement may add to a rollup once."""
    in_arrays = set(arrays.series)
    return any(key in in_arrays for key, _, _ in added)


def _copy_rows(cursor: Any, into: Any, types: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    names = ", ".join(c.name for c in into.c)
    with cursor.copy(f"COPY {into.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _incoming() -> Select:
    """The incoming buckets with their series, as rows of rollups in the order of series,
    resolution and start."""
    series, buckets = _SERIES.c, _BUCKETS.c
    by_name = {
        "device_id": series.device_id,
        "channel": series.channel,
        "retention_days": series.retention_days,
    }
    joined = _BUCKETS.join(_SERIES, series.series == buckets.series)
    query = select(*(by_name.get(name, buckets.get(name)) for name in COLUMNS)).select_from(joined)
    return query.order_by(buckets.series, buckets.resolution, buckets.bucket)


def _add_rows(connection: Connection, added: Rollups) -> None:
    if not added:
        return
    rows = []
    for ((device_id, channel, days), resolution, start_ms), aggregate in sorted(added.items()):
        head = (uuid.UUID(device_id), channel, resolution, utc_of(start_ms), days)
        rows.append(dict(zip(COLUMNS, (*head, *_figures(aggregate)), strict=True)))
    connection.execute(_adding(connection, conflict_aware_insert(connection, rollups)), rows)


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
    per bucket holding a rollup, every aggregate a window over the bucket's rollups, or
    the rollup itself when it is the bucket."""
    table = rollups
    kind = KIND_COLUMNS[value_type]
    where = (
        table.c.device_id == device_id,
        table.c.channel == channel,
        table.c.resolution == resolution,
        table.c.bucket >= start,
        table.c.bucket < end,
    )
    if bucket_seconds == resolution:
        return _one_rollup_per_bucket(kind, aggregates, where)
    bucket = bucket_start(dialect, bucket_seconds, int(start.timestamp()), table.c.bucket)
    over = windowed(bucket, table.c.first_ts)
    columns = {
        "count": over(func.sum(table.c.count)),
        "min": over(func.min(table.c.min)),
        "max": over(func.max(table.c.max)),
        "avg": over(func.sum(table.c.sum)) / over(func.sum(table.c.count)),
        "first": over(func.first_value(table.c[f"first_{kind}"])),
        # The latest of the rollups' last readings.
        "last": over(func.first_value(table.c[f"last_{kind}"]), table.c.last_ts.desc()),
    }
    return one_row_per_bucket(bucket, over, {name: columns[name] for name in aggregates}, where)


def _one_rollup_per_bucket(
    kind: str, aggregates: Sequence[str], where: Sequence[ColumnElement[bool]]
) -> Select:
    """A series whose buckets are the rollups' own (the resolution's, from an aligned
    start): each row is a bucket, with nothing to combine."""
    table = rollups
    columns = {
        "count": table.c.count,
        "min": table.c.min,
        "max": table.c.max,
        "avg": table.c.sum / table.c.count,
        "first": table.c[f"first_{kind}"],
        "last": table.c[f"last_{kind}"],
    }
    return (
        select(table.c.bucket, *(columns[name] for name in aggregates)).where(*where).order_by(table.c.bucket)
    )


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


def _figures(aggregate: Aggregate) -> tuple[Any, ...]:
    """The aggregate's columns of rollups from count on, in COLUMNS' order."""
    return (
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
