"""Machine trackers between flushes, and what machines did per quarter hour."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP

from services.analytics.domain.performance import Inputs
from services.analytics.storage import COUNTED_INPUTS, QUARTER_INPUTS, machine_trackers, performance_quarters
from services.kit.bulk_rows import upsert_rows


def load_trackers(connection: Connection, device_ids: Iterable[str]) -> dict[str, tuple[int, bytes]]:
    """Each device's tracker: the model version it follows, and its state."""
    query = select(
        machine_trackers.c.device_id, machine_trackers.c.model_version, machine_trackers.c.state
    ).where(machine_trackers.c.device_id.in_(list(device_ids)))
    return {device_id: (version, state) for device_id, version, state in connection.execute(query)}


def save_trackers(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """`{"device_id", "tenant_id", "model_version", "state", "updated_at", "changes": 1}`
    each; the changes are counted."""
    upsert_rows(connection, machine_trackers, rows, added=("changes",))


def add_quarters(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Adds to each device's quarter hour what its machine did in it:
    `{"device_id", "start", "tenant_id", "site", <QUARTER_INPUTS>...}`, one row per
    quarter of a device."""
    upsert_rows(connection, performance_quarters, rows, added=QUARTER_INPUTS)


def summed_quarters(
    connection: Connection,
    tenant_id: str,
    boundaries: Sequence[datetime],
    device_id: str | None = None,
    site: str | None = None,
) -> list[Inputs]:
    """What the machines (one device's, one site's, or else all the tenant's) did in each
    period [boundaries[i], boundaries[i + 1]), in one query: PostgreSQL sums each period
    (width_bucket); elsewhere the database sums each quarter and the periods are summed
    here."""
    table = performance_quarters
    postgres = connection.dialect.name == "postgresql"
    period = (
        func.width_bucket(
            table.c.start, bindparam("edges", list(boundaries), type_=ARRAY(TIMESTAMP(timezone=True)))
        )
        if postgres
        else table.c.start
    )
    query = (
        select(period, *(func.sum(table.c[name]) for name in QUARTER_INPUTS))
        .where(table.c.tenant_id == tenant_id, table.c.start >= boundaries[0], table.c.start < boundaries[-1])
        .group_by(period)
    )
    if device_id is not None:
        query = query.where(table.c.device_id == device_id)
    if site is not None:
        query = query.where(table.c.site == site)
    sums = [[0.0] * len(QUARTER_INPUTS) for _ in boundaries[1:]]
    for found, *values in connection.execute(query):
        # width_bucket numbers the periods from 1.
        total = sums[found - 1 if postgres else bisect_right(boundaries, found) - 1]
        for index, value in enumerate(values):
            total[index] += float(value)
    return [_inputs(total) for total in sums]


def _inputs(total: list[float]) -> Inputs:
    return Inputs(
        **{
            name: int(value) if name in COUNTED_INPUTS else value
            for name, value in zip(QUARTER_INPUTS, total, strict=True)
        }
    )
