"""Readings written in bulk: one row per device, tier and instant with its values packed.

On PostgreSQL a binary COPY puts new rows straight into the readings table; when some
rows exist already (a batch delivered again, or a device's second message about the same
instant), a merge locks them, keeps every value stored and adds the channels they lack
(the first write of a reading wins). SQLite always merges.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

import psycopg
from sqlalchemy import Connection, bindparam, insert, select, update

from services.kit.batches import EPOCH, AcceptedBatch, Scalar, utc_of
from services.kit.db import driver_connection
from services.kit.events import Event
from services.telemetry.chunks import ChunkRows, chunk_rows
from services.telemetry.packing import ChannelSet, channel_set_of, pack, unpack
from services.telemetry.queries import compaction
from services.telemetry.queries.interning import Interned
from services.telemetry.rollups import Reading
from services.telemetry.storage import metadata, readings

COLUMNS = ("device_number", "retention_days", "ts", "channel_set", "vals")
_COPY_TYPES = ("int4", "int2", "timestamptz", "int4", "bytea")
MILLISECOND = timedelta(milliseconds=1)

# (device number, retention tier, ts in ms): one row of readings.
RowKey = tuple[int, int, int]
DeviceNumbers = Mapping[str, int]


class Shapes:
    """The channel set of each sample's values, remembered by their channels and types:
    a device sends the same shape sample after sample."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, ...], ChannelSet] = {}

    def of(self, values: Mapping[str, Scalar]) -> ChannelSet:
        shape = (*values, *(value.__class__ for value in values.values()))
        found = self._known.get(shape)
        if found is None:
            found = self._known[shape] = channel_set_of(values)
        return found

    def in_batches(self, batches: Iterable[AcceptedBatch]) -> set[ChannelSet]:
        return {self.of(values) for b in batches for _, samples in b.devices for _, values in samples}


def ms_of(ts: datetime) -> int:
    return (ts - EPOCH) // MILLISECOND


def packed_rows(
    batches: Sequence[AcceptedBatch],
    numbers: DeviceNumbers,
    set_ids: Mapping[ChannelSet, int],
    shapes: Shapes,
) -> Iterator[tuple[Any, ...]]:
    for batch in batches:
        retention = batch.retention_days
        for device_id, samples in batch.devices:
            number = numbers[device_id]
            for ts_ms, values in samples:
                if not values:
                    continue
                channel_set = shapes.of(values)
                yield number, retention, utc_of(ts_ms), set_ids[channel_set], pack(channel_set, values)


def copy(driver: psycopg.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    statement = f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copying:
        copying.set_types(_COPY_TYPES)
        for row in rows:
            copying.write_row(row)


def merge(
    connection: Connection,
    batches: Sequence[AcceptedBatch],
    numbers: DeviceNumbers,
    interned: Interned,
    compacted: set[tuple[int, date]],
) -> list[Reading]:
    """Stores the readings not stored yet, in rows or, for the `compacted` (tier, day)s, in
    their devices' chunks; returns them as stored (of two with one key in the batches, the
    first)."""
    incoming = _incoming(batches, numbers)
    in_chunks = {key for key in incoming if (key[1], utc_of(key[2]).date()) in compacted}
    stored_rows = _locked_rows(connection, {k: v for k, v in incoming.items() if k not in in_chunks})
    chunks = compaction.locked_chunks(connection, {_chunk_of(key) for key in in_chunks})
    stored_rows |= _rows_of_chunks(chunks)
    known = interned.sets(connection, {set_id for set_id, _ in stored_rows.values()})
    added: list[Reading] = []
    rows: dict[RowKey, dict[str, Scalar]] = {}
    for key, (device_id, values) in incoming.items():
        stored = stored_rows.get(key)
        held = dict(unpack(known[stored[0]], stored[1])) if stored else {}
        new = {channel: value for channel, value in values.items() if channel not in held}
        if new:
            rows[key] = held | new
            added += [((device_id, channel, key[1]), key[2], value) for channel, value in new.items()]
    set_ids = interned.set_ids(connection, {channel_set_of(values) for values in rows.values()})
    packed = {key: _packed(values, set_ids) for key, values in rows.items()}
    hot = {key: row for key, row in packed.items() if key not in in_chunks}
    _write(connection, {k: v for k, v in hot.items() if k not in stored_rows}, update_rows=False)
    _write(connection, {k: v for k, v in hot.items() if k in stored_rows}, update_rows=True)
    compaction.write_chunks(
        connection, _rewritten(chunks, {k: v for k, v in packed.items() if k in in_chunks})
    )
    return added


def _chunk_of(key: RowKey) -> compaction.ChunkKey:
    number, tier, ts_ms = key
    return number, tier, utc_of(ts_ms).date()


def _rows_of_chunks(chunks: dict[compaction.ChunkKey, ChunkRows]) -> dict[RowKey, tuple[int, bytes]]:
    return {
        (number, tier, ts_us // 1000): (set_id, vals)
        for (number, tier, _), chunk in chunks.items()
        for ts_us, set_id, vals in zip(chunk.ts_us.tolist(), chunk.set_ids.tolist(), chunk.vals, strict=True)
    }


def _rewritten(
    chunks: dict[compaction.ChunkKey, ChunkRows], changed: dict[RowKey, tuple[int, bytes]]
) -> dict[compaction.ChunkKey, ChunkRows]:
    """The chunks with the rows changed or added in them (a chunk made for a device without)."""
    held: dict[compaction.ChunkKey, dict[int, tuple[int, bytes]]] = {}
    for key, row in changed.items():
        chunk_key = _chunk_of(key)
        if chunk_key not in held:
            in_chunk = _rows_of_chunks({chunk_key: chunks[chunk_key]}) if chunk_key in chunks else {}
            held[chunk_key] = {ts_ms: stored for (_, _, ts_ms), stored in in_chunk.items()}
        held[chunk_key][key[2]] = row
    return {chunk_key: _chunk_of_rows(rows) for chunk_key, rows in held.items()}


def _chunk_of_rows(rows: dict[int, tuple[int, bytes]]) -> ChunkRows:
    stamps = sorted(rows)
    return chunk_rows(
        [ts_ms * 1000 for ts_ms in stamps], [rows[t][0] for t in stamps], [rows[t][1] for t in stamps]
    )


def _incoming(
    batches: Sequence[AcceptedBatch], numbers: DeviceNumbers
) -> dict[RowKey, tuple[str, dict[str, Scalar]]]:
    """The batches' values by row, the first of two for one reading."""
    incoming: dict[RowKey, tuple[str, dict[str, Scalar]]] = {}
    for batch in batches:
        for device_id, samples in batch.devices:
            number = numbers[device_id]
            for ts_ms, values in samples:
                if not values:
                    continue
                _, row = incoming.setdefault((number, batch.retention_days, ts_ms), (device_id, {}))
                for channel, value in values.items():
                    row.setdefault(channel, value)
    return incoming


def _locked_rows(connection: Connection, incoming: Mapping[RowKey, Any]) -> dict[RowKey, tuple[int, bytes]]:
    """The stored rows among `incoming`'s, locked until the transaction ends: a device's rows
    in the tier between the first and last time wanted, in key order against deadlocks."""
    found: dict[RowKey, tuple[int, bytes]] = {}
    table = readings.c
    for (number, tier), keys in groupby(sorted(incoming), key=lambda key: key[:2]):
        stamps = [ts_ms for _, _, ts_ms in keys]
        query = (
            select(table.ts, table.channel_set, table.vals)
            .where(table.device_number == number, table.retention_days == tier)
            .where(table.ts >= utc_of(stamps[0]), table.ts <= utc_of(stamps[-1]))
            .order_by(table.ts)
            .with_for_update()
        )
        for ts, set_id, vals in connection.execute(query):
            found[(number, tier, ms_of(ts))] = (set_id, bytes(vals))
    return {key: row for key, row in found.items() if key in incoming}


def _packed(values: dict[str, Scalar], sets: Mapping[ChannelSet, int]) -> tuple[int, bytes]:
    channel_set = channel_set_of(values)
    return sets[channel_set], pack(channel_set, values)


def _write(connection: Connection, rows: Mapping[RowKey, tuple[int, bytes]], update_rows: bool) -> None:
    if not rows:
        return
    records = [
        {"n": number, "r": tier, "t": utc_of(ts_ms), "s": set_id, "v": vals}
        for (number, tier, ts_ms), (set_id, vals) in sorted(rows.items())
    ]
    table = readings.c
    if not update_rows and connection.dialect.name == "postgresql":
        copy(driver_connection(connection), (tuple(r.values()) for r in records))
        return
    if update_rows:
        statement: Any = (
            update(readings)
            .where(
                table.device_number == bindparam("n"),
                table.retention_days == bindparam("r"),
                table.ts == bindparam("t"),
            )
            .values(channel_set=bindparam("s"), vals=bindparam("v"))
        )
    else:
        statement = insert(readings).values(
            device_number=bindparam("n"),
            retention_days=bindparam("r"),
            ts=bindparam("t"),
            channel_set=bindparam("s"),
            vals=bindparam("v"),
        )
    connection.execute(statement, records)


def unannounced(connection: Connection, events: list[Event], merged: bool) -> list[Event]:
    """The events not in the outbox yet: a batch delivered again was announced already
    if it had been stored."""
    if not merged and connection.dialect.name == "postgresql":
        return events
    outbox = metadata.tables["outbox"]
    query = select(outbox.c.id).where(outbox.c.id.in_([e.id for e in events]))
    known = set(connection.execute(query).scalars())
    return [e for e in events if e.id not in known]
