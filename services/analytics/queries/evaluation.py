"""The evaluator's own rows: device states, the batches it has applied, readings counted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from services.analytics.storage import device_activity, device_states, processed_batches, readings_per_minute
from services.kit.bulk_rows import one_of, upsert_rows
from services.kit.db import conflict_aware_insert


def claim_batches(connection: Connection, batch_ids: Sequence[str], now: datetime) -> set[str]:
    """Records the batches as applied in this transaction; the ids of those not applied
    before."""
    rows = [{"id": batch_id, "processed_at": now} for batch_id in batch_ids]
    statement = conflict_aware_insert(connection, processed_batches).on_conflict_do_nothing()
    return set(connection.execute(statement.returning(processed_batches.c.id), rows).scalars())


def forget_batches(connection: Connection, before: datetime) -> int:
    """Drops the record of batches applied before `before`: none comes back so late."""
    return connection.execute(
        delete(processed_batches).where(processed_batches.c.processed_at < before)
    ).rowcount


def load_states(connection: Connection, device_ids: Iterable[str]) -> dict[str, bytes]:
    query = select(device_states.c.device_id, device_states.c.state).where(
        one_of(connection, device_states.c.device_id, list(device_ids))
    )
    return {device_id: state for device_id, state in connection.execute(query)}


def save_states(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Writes each device's state: `{"device_id", "tenant_id", "state", "updated_at"}`."""
    upsert_rows(connection, device_states, rows)


def count_readings(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Adds readings to the counts of each tenant's minute:
    `{"tenant_id", "minute", "counted_by", "accepted", "rejected"}`."""
    if not rows:
        return
    table = readings_per_minute
    statement = conflict_aware_insert(connection, table)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "minute", "counted_by"],
            set_={
                "accepted": table.c.accepted + statement.excluded.accepted,
                "rejected": table.c.rejected + statement.excluded.rejected,
            },
        ),
        list(rows),
    )


def forget_counts(connection: Connection, before: datetime) -> int:
    return connection.execute(
        delete(readings_per_minute).where(readings_per_minute.c.minute < before)
    ).rowcount


def record_activity(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Moves each device's last reading time forward, never back:
    `{"device_id", "tenant_id", "last_reading_at"}`, in a stable order against deadlocks."""
    if not rows:
        return
    statement = conflict_aware_insert(connection, device_activity)
    # Two arguments make SQLite's max() the scalar one, PostgreSQL's is greatest().
    later = func.greatest if connection.dialect.name == "postgresql" else func.max
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["device_id"],
            set_={
                "last_reading_at": later(
                    device_activity.c.last_reading_at, statement.excluded.last_reading_at
                )
            },
        ),
        sorted(rows, key=lambda row: row["device_id"]),
    )
