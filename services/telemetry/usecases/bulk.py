"""Accepted batches stored in bulk, in one transaction with their rollups and their
`telemetry.batch_stored` events: a COPY straight into the readings table, and only when
a batch was delivered before (a key already stored) a merge that skips duplicates. The
rollups gain what was stored for the first time, and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

import psycopg

from services.kit.batches import AcceptedBatch, utc_of
from services.kit.db import driver_connection
from services.kit.events import Event
from services.kit.store import Store
from services.telemetry.queries import bulk
from services.telemetry.queries import rollups as rollup_queries
from services.telemetry.queries.partitions import ensure_day_partitions
from services.telemetry.rollups import Reading, readings_of, rollups_of


def days_of(batch: AcceptedBatch) -> set[tuple[int, date]]:
    """The (retention tier, UTC day) partitions the batch's readings go into."""
    return {
        (batch.retention_days, utc_of(ts_ms).date()) for _, samples in batch.devices for ts_ms, _ in samples
    }


def batch_stored(batch: AcceptedBatch, at: datetime) -> Event:
    """The batch's event, with an id of its own batch's: stored twice, announced once."""
    devices = []
    for device_id, samples in batch.devices:
        stamps = [ts_ms for ts_ms, _ in samples]
        devices.append(
            {
                "device_id": device_id,
                "count": sum(len(values) for _, values in samples),
                "first_ts": utc_of(min(stamps)).isoformat(),
                "last_ts": utc_of(max(stamps)).isoformat(),
            }
        )
    event_id = str(uuid.uuid5(uuid.UUID(batch.id), "telemetry.batch_stored"))
    return Event(event_id, "telemetry.batch_stored", at, batch.tenant_id, {"devices": devices})


class BulkWriter:
    """Stores batches; keeps note of the day partitions it has made sure of."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._partitions: set[tuple[int, date]] = set()

    def store(self, batches: Sequence[AcceptedBatch]) -> None:
        """Stores every reading of `batches` exactly once, with their events."""
        self._ensure_partitions(batches)
        try:
            self._write(batches, merge=False)
        except psycopg.errors.UniqueViolation:
            self._write(batches, merge=True)

    def _write(self, batches: Sequence[AcceptedBatch], merge: bool) -> None:
        now = datetime.now(UTC)
        with self._store.unit_of_work() as uow:
            connection = uow.connection
            # The rollups gain the readings stored: all of a COPY's, those a merge kept.
            stored: Iterable[Reading]
            if connection.dialect.name != "postgresql":
                stored = bulk.insert_skipping_duplicates(connection, batches)
            elif merge:
                stored = bulk.merge(connection, batches)
            else:
                bulk.copy(driver_connection(connection), "readings", batches)
                stored = readings_of(batches)
            rollup_queries.add(connection, rollups_of(stored))
            for event in bulk.unannounced(connection, [batch_stored(b, now) for b in batches], merge):
                uow.emit(event)
            uow.commit()

    def _ensure_partitions(self, batches: Sequence[AcceptedBatch]) -> None:
        needed = set().union(*(days_of(b) for b in batches)) - self._partitions
        if not needed:
            return
        with self._store.engine.begin() as connection:
            ensure_day_partitions(connection, needed)
        self._partitions |= needed
