"""The machines' logs of readings (domain/machine_log.py): written as records close,
read back from a late reading's base record, rewritten from there, forgotten when old."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, select

from services.analytics.domain.machine_log import LogRecord
from services.analytics.storage import machine_log
from services.kit.db import copy_rows


def write_records(connection: Connection, records: Iterable[tuple[str, int, LogRecord]]) -> None:
    """Adds `(device_id, seq, record)` each."""
    rows = [
        {
            "device_id": device_id,
            "seq": seq,
            "first_ts": record.first_ts,
            "last_ts": record.last_ts,
            "record": record.encode(),
        }
        for device_id, seq, record in records
    ]
    copy_rows(connection, machine_log, rows)


def records_reaching(connection: Connection, device_id: str, earliest_ms: int) -> tuple[int, list[LogRecord]]:
    """The device's records from the last begun before `earliest_ms` (or else from its
    oldest kept), with the first one's number."""
    table = machine_log
    begun = (
        select(func.max(table.c.seq))
        .where(table.c.device_id == device_id, table.c.first_ts < earliest_ms)
        .scalar_subquery()
    )
    oldest = select(func.min(table.c.seq)).where(table.c.device_id == device_id).scalar_subquery()
    query = (
        select(table.c.seq, table.c.record)
        .where(table.c.device_id == device_id, table.c.seq >= func.coalesce(begun, oldest))
        .order_by(table.c.seq)
    )
    rows = connection.execute(query).all()
    return (rows[0].seq if rows else 0), [LogRecord.decode(row.record) for row in rows]


def drop_records(connection: Connection, device_id: str, from_seq: int = 0) -> None:
    table = machine_log
    connection.execute(delete(table).where(table.c.device_id == device_id, table.c.seq >= from_seq))


def forget_records(connection: Connection, before_ms: int) -> None:
    """Drops the records that end before `before_ms`: late readings before them are left out."""
    connection.execute(delete(machine_log).where(machine_log.c.last_ts < before_ms))
