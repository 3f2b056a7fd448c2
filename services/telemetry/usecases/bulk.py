"""Accepted batches stored in bulk, in one transaction with their rollups and their
`telemetry.batch_stored` events: a COPY of packed rows straight into the readings table,
and only when a row's key is stored already (a batch delivered again, a second message
about the same instant) a merge that adds the readings not stored yet. The
rollups gain what was stored for the first time, and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import numpy as np
import psycopg

from services.kit.batches import AcceptedBatch, utc_of
from services.kit.db import driver_connection
from services.kit.events import Event
from services.kit.store import Store
from services.telemetry import stored_columns
from services.telemetry.packing import ChannelSet
from services.telemetry.queries import bulk
from services.telemetry.queries import rollups as rollup_queries
from services.telemetry.queries.binary_copy import copy_readings, readings_copy_data
from services.telemetry.queries.compaction import compacted_days
from services.telemetry.queries.interning import Interned
from services.telemetry.queries.partitions import ensure_day_partitions
from services.telemetry.rollups import combined, readings_of, rollups_of

DAY_MS = 86_400_000


def days_of(batch: AcceptedBatch) -> set[tuple[int, date]]:
    """The (retention tier, UTC day) partitions the batch's readings go into."""
    days = {ts_ms // DAY_MS for _, samples in batch.devices for ts_ms, _ in samples}
    days.update(*(np.unique(device.ts_ms // DAY_MS).tolist() for device in batch.columns))
    return {(batch.retention_days, utc_of(day * DAY_MS).date()) for day in days}


def batch_stored(batch: AcceptedBatch, at: datetime) -> Event:
    """The batch's event, with an id of its own batch's: stored twice, announced once."""
    spans = [
        (device_id, sum(len(values) for _, values in samples), *_span([ts_ms for ts_ms, _ in samples]))
        for device_id, samples in batch.devices
        if samples
    ]
    spans += [(d.device_id, d.reading_count(), *stored_columns.span(d)) for d in batch.columns]
    devices = [
        {
            "device_id": device_id,
            "count": count,
            "first_ts": utc_of(first).isoformat(),
            "last_ts": utc_of(last).isoformat(),
        }
        for device_id, count, first, last in spans
    ]
    event_id = str(uuid.uuid5(uuid.UUID(batch.id), "telemetry.batch_stored"))
    return Event(event_id, "telemetry.batch_stored", at, batch.tenant_id, {"devices": devices})


class BulkWriter:
    """Stores batches; keeps note of the day partitions, device numbers and channel sets
    it has made sure of."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._partitions: set[tuple[int, date]] = set()
        self._interned = Interned()
        self._shapes = bulk.Shapes()

    def store(self, batches: Sequence[AcceptedBatch]) -> None:
        """Stores every reading of `batches` exactly once, with their events."""
        # In columns, readings are packed and rolled up a whole array at a time.
        batches = [batch.in_columns() for batch in batches]
        groups = stored_columns.grouped(batches)
        numbers, set_ids = self._prepare(batches, groups)
        try:
            self._write(batches, groups, numbers, set_ids, merge=False)
        except psycopg.errors.UniqueViolation:
            self._write(batches, groups, numbers, set_ids, merge=True)

    def _write(
        self,
        batches: Sequence[AcceptedBatch],
        groups: stored_columns.DeviceGroups,
        numbers: dict[str, int],
        set_ids: dict[ChannelSet, int],
        merge: bool,
    ) -> None:
        now = datetime.now(UTC)
        with self._store.unit_of_work() as uow:
            connection = uow.connection
            # The rollups gain the readings stored: all of a COPY's, those a merge kept.
            compacted = compacted_days(connection, set().union(*(days_of(b) for b in batches)))
            merge = merge or bool(compacted) or connection.dialect.name != "postgresql"
            if merge:
                in_rows = [batch.in_rows() for batch in batches]
                added = rollups_of(bulk.merge(connection, in_rows, numbers, self._interned, compacted))
                arrays = None
            else:
                driver = driver_connection(connection)
                bulk.copy(driver, bulk.packed_rows(batches, numbers, set_ids, self._shapes))
                columns = stored_columns.copy_rows(groups, numbers, set_ids)
                if columns is not None:
                    copy_readings(driver, readings_copy_data(*columns.joined()))
                of_text, arrays = stored_columns.rollups(batches)
                added = combined(rollups_of(readings_of(batches)), of_text)
            rollup_queries.add(connection, added, arrays)
            for event in bulk.unannounced(connection, [batch_stored(b, now) for b in batches], merge):
                uow.emit(event)
            uow.commit()

    def _prepare(
        self, batches: Sequence[AcceptedBatch], groups: stored_columns.DeviceGroups
    ) -> tuple[dict[str, int], dict[ChannelSet, int]]:
        """Makes sure of the day partitions the batches go into; the numbers of their
        devices and the ids of their samples' channel sets."""
        partitions = set().union(*(days_of(b) for b in batches)) - self._partitions
        with self._store.engine.begin() as connection:
            ensure_day_partitions(connection, partitions)
            devices = {d for b in batches for d, _ in b.devices} | {
                d.device_id for b in batches for d in b.columns
            }
            numbers = self._interned.device_numbers(connection, devices)
            sets = self._shapes.in_batches(batches) | stored_columns.channel_sets(groups)
            set_ids = self._interned.set_ids(connection, sets)
        self._partitions |= partitions
        self._interned.remember(numbers, set_ids)
        return numbers, set_ids


def _span(stamps: list[int]) -> tuple[int, int]:
    return min(stamps), max(stamps)
