"""The day partitions of readings and of their rollups: made as readings arrive, dropped
together once expired. On PostgreSQL only; elsewhere expiry deletes rows."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, delete, text

from services.telemetry.rules import RETENTION_TIERS
from services.telemetry.storage import readings, rollups

log = logging.getLogger(__name__)

# The tables partitioned by tier and day, with the storage options of their days: rollups
# are updated in place flush after flush, and room on each page keeps the updates HOT (no
# new index entry); readings are only ever added (and seldom merged), chunks rarely
# rewritten.
DAY_PARTITIONED = {"readings": "", "rollups": " WITH (fillfactor = 50)", "compacted_readings": ""}


def day_partition(retention_days: int, day: date, table: str = "readings") -> str:
    return f"{table}_r{retention_days}_{day:%Y%m%d}"


def ensure_day_partitions(connection: Connection, tier_days: Iterable[tuple[int, date]]) -> None:
    """Creates the day partitions of readings and rollups that rows of these (retention
    tier, UTC day) pairs go into, unless they exist; nothing to do but on PostgreSQL."""
    if connection.dialect.name != "postgresql":
        return
    for retention_days, day in sorted(set(tier_days)):
        start = datetime.combine(day, time(), UTC)
        for table in DAY_PARTITIONED:
            connection.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {day_partition(retention_days, day, table)} "
                    f"PARTITION OF {table}_r{retention_days} "
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
                    f"{DAY_PARTITIONED[table]}"
                )
            )


def expire(connection: Connection, now: datetime) -> int:
    """Removes readings past their tier's retention: whole day partitions on PostgreSQL,
    rows elsewhere. Returns the partitions (or rows) removed."""
    if connection.dialect.name != "postgresql":
        return sum(_delete_expired_rows(connection, days, now) for days in RETENTION_TIERS)
    dropped = 0
    for days in RETENTION_TIERS:
        for table in DAY_PARTITIONED:
            for name, day in _day_partitions(connection, table, days):
                if day + timedelta(days=1) <= (now - timedelta(days=days)).date():
                    connection.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
                    log.info("expired partition dropped", extra={"partition": name})
                    dropped += table == "readings"
    return dropped


def _day_partitions(connection: Connection, table: str, days: int) -> list[tuple[str, date]]:
    query = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:parent AS regclass)"
    )
    names = connection.execute(query, {"parent": f"{table}_r{days}"}).scalars()
    return [(name, datetime.strptime(name.rsplit("_", 1)[1], "%Y%m%d").date()) for name in names]


def _delete_expired_rows(connection: Connection, days: int, now: datetime) -> int:
    cutoff = now - timedelta(days=days)
    connection.execute(delete(rollups).where(rollups.c.retention_days == days, rollups.c.bucket < cutoff))
    statement = delete(readings).where(readings.c.retention_days == days, readings.c.ts < cutoff)
    return connection.execute(statement).rowcount
