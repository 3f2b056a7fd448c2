"""Rollups in the database: added to as readings are stored, read for series."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, case, func

from services.kit.batches import Scalar, utc_of
from services.kit.db import conflict_aware_insert
from services.telemetry.queries.readings import bucket_start, one_row_per_bucket, windowed
from services.telemetry.rollups import Aggregate, Rollups
from services.telemetry.storage import rollups

KEY = ("device_id", "channel", "resolution", "bucket", "retention_days")
_KINDS = {float: "float", int: "int", bool: "bool", str: "text"}
_VALUE_KINDS = {"float": "float", "int": "int", "bool": "bool", "string": "text", "enum": "text"}
_TYPED = tuple(f"{end}_{kind}" for end in ("first", "last") for kind in ("float", "int", "bool", "text"))


def add(connection: Connection, added: Rollups) -> None:
    """Adds aggregates to their rollups, in a stable order against deadlocks between writers."""
    if not added:
        return
    table = rollups
    statement = conflict_aware_insert(connection, table)
    new = statement.excluded
    least, greatest = (
        (func.least, func.greatest) if connection.dialect.name == "postgresql" else (func.min, func.max)
    )
    earlier, later = new.first_ts < table.c.first_ts, new.last_ts > table.c.last_ts
    connection.execute(
        statement.on_conflict_do_update(
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
                    name: case(
                        (earlier if name.startswith("first") else later, new[name]), else_=table.c[name]
                    )
                    for name in _TYPED
                },
            },
        ),
        [_row(key, aggregate) for key, aggregate in sorted(added.items(), key=lambda item: item[0])],
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
    kind = _VALUE_KINDS[value_type]
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


def _row(key: tuple[tuple[str, str, int], int, int], aggregate: Aggregate) -> dict[str, Any]:
    (device_id, channel, retention_days), resolution, start_ms = key
    return {
        "device_id": uuid.UUID(device_id),
        "channel": channel,
        "resolution": resolution,
        "bucket": utc_of(start_ms),
        "retention_days": retention_days,
        "count": aggregate.count,
        "sum": aggregate.sum,
        "sumsq": aggregate.sumsq,
        "min": aggregate.min,
        "max": aggregate.max,
        "first_ts": utc_of(aggregate.first_ts),
        "last_ts": utc_of(aggregate.last_ts),
        **_typed("first", aggregate.first),
        **_typed("last", aggregate.last),
    }


def _typed(end: str, value: Scalar) -> dict[str, Any]:
    kind = _KINDS[value.__class__]
    return {f"{end}_{k}": value if k == kind else None for k in ("float", "int", "bool", "text")}
