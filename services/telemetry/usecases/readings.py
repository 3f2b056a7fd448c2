"""Telemetry's queries over stored readings, each scoped to the caller's tenant.

Every query first finds the device among the tenant's own (another tenant's device is
NotFound, exactly as one that does not exist) and checks the channels it names against
the device's profile version; the statements are in queries/readings.py and
queries/rollups.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row

from services.kit import pagination
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.validation import require_uuid
from services.telemetry.csv_export import csv_chunks
from services.telemetry.domain import Bucket, LatestValues, ReadingsPage, Series
from services.telemetry.downsampling import downsampled
from services.telemetry.packing import KINDS
from services.telemetry.queries import directory
from services.telemetry.queries import readings as statements
from services.telemetry.queries import rollups as rollup_statements
from services.telemetry.queries.interning import Interned, device_number
from services.telemetry.rollups import resolution_for
from services.telemetry.usecases import UnitOfWorkFactory

AGGREGATES = ("min", "max", "avg", "count", "first", "last")
NUMERIC_TYPES = frozenset({"float", "int"})
_NUMERIC_AGGREGATES = frozenset({"min", "max", "avg"})
MAX_BUCKETS = 100_000
# Nothing is kept longer than the longest retention tier, ten years: a wider bucket means nothing.
MAX_BUCKET_SECONDS = 3660 * 86_400

_SCALAR_TYPES: dict[str, Callable[[Any], Any]] = {
    "float": float,
    "int": int,
    "bool": bool,
    "string": str,
    "enum": str,
}


class Readings:
    """The read side of telemetry: what the query calls of the API answer."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._unit_of_work = unit_of_work
        self._interned = Interned()

    def get_latest(self, tenant_id: str, device_id: str) -> LatestValues:
        """The latest value of every channel of the device's profile that has one, in its order."""
        tenant_id, device_id = _ids(tenant_id, device_id)
        with self._unit_of_work(read_only=True) as uow:
            channels = _channels(uow.connection, tenant_id, device_id)
            rows = uow.connection.execute(statements.latest(uuid.UUID(device_id), list(channels))).all()
        latest = {row.channel: statements.latest_value(row) for row in rows}
        return LatestValues(device_id, [latest[key] for key in channels if key in latest])

    def query_range(
        self,
        tenant_id: str,
        device_id: str,
        channels: Sequence[str],
        start: datetime,
        end: datetime,
        size: int,
        cursor: str,
    ) -> ReadingsPage:
        """A page of the readings in [start, end) of the channels named (all when none is),
        by time then channel (in code point order)."""
        tenant_id, device_id = _ids(tenant_id, device_id)
        _require_period(start, end)
        limit = pagination.page_size(size)
        listing = {
            "tenant": tenant_id,
            "device": device_id,
            "channels": sorted(set(channels)),
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
        after = _after(pagination.decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            connection = uow.connection
            selected = _selected(_channels(connection, tenant_id, device_id), channels)
            number = device_number(connection, device_id)
            found = list(
                statements.in_order(
                    connection, self._interned, number, selected, start, end, after, limit + 1
                )
            )
        page = found[:limit]
        last = page[-1] if len(found) > limit else None
        next_cursor = pagination.encode_cursor([last.ts.isoformat(), last.channel], listing) if last else ""
        return ReadingsPage(page, next_cursor)

    def query_series(
        self,
        tenant_id: str,
        device_id: str,
        channel: str,
        start: datetime,
        end: datetime,
        bucket_seconds: int,
        aggregates: Sequence[str],
    ) -> Series:
        """One channel in [start, end) downsampled into buckets aligned to the epoch, with
        the aggregates named (all that apply to the channel's type when none is)."""
        tenant_id, device_id = _ids(tenant_id, device_id)
        _require_period(start, end)
        _require_buckets(start, end, bucket_seconds)
        with self._unit_of_work(read_only=True) as uow:
            value_type = _value_type(_channels(uow.connection, tenant_id, device_id), channel)
            names = _aggregates(aggregates, value_type)
            connection = uow.connection
            resolution = resolution_for(start.timestamp(), end.timestamp(), bucket_seconds)
            if resolution is None:
                number = device_number(connection, device_id)
                rows = self.series_from_readings(
                    connection, number, channel, value_type, start, end, bucket_seconds, names
                )
            else:
                query = rollup_statements.series(
                    connection.dialect.name,
                    uuid.UUID(device_id),
                    channel,
                    value_type,
                    resolution,
                    start,
                    end,
                    bucket_seconds,
                    names,
                )
                rows = connection.execute(query).all()
        types = _aggregate_types(names, value_type)
        buckets = [_bucket(row, types) for row in rows]
        return Series(device_id, channel, bucket_seconds, names, buckets)

    def export_csv(
        self, tenant_id: str, device_id: str, channels: Sequence[str], start: datetime, end: datetime
    ) -> Iterator[bytes]:
        """The readings `query_range` would page through, as CSV chunks (RFC 4180, header
        first). The request is checked before this returns; the rows are streamed as
        they are iterated, never all in memory."""
        tenant_id, device_id = _ids(tenant_id, device_id)
        _require_period(start, end)
        with self._unit_of_work(read_only=True) as uow:
            selected = _selected(_channels(uow.connection, tenant_id, device_id), channels)
            number = device_number(uow.connection, device_id)
        return self._csv(number, selected, start, end)

    def series_from_readings(
        self,
        connection: Connection,
        device_number: int | None,
        channel: str,
        value_type: str,
        start: datetime,
        end: datetime,
        bucket_seconds: int,
        aggregates: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        """(bucket start, *aggregates) of the buckets holding a reading of the channel in
        [start, end) stored in the value type's kind."""
        if device_number is None:
            return []
        stamps, values = statements.channel_column(
            connection, self._interned, device_number, channel, KINDS[_SCALAR_TYPES[value_type]], start, end
        )
        return downsampled(stamps, values, start, bucket_seconds, value_type in NUMERIC_TYPES, aggregates)

    def _csv(
        self, device_number: int | None, channels: list[str], start: datetime, end: datetime
    ) -> Iterator[bytes]:
        # Rows are read a chunk at a time along the key, never all in memory.
        with self._unit_of_work(read_only=True) as uow:
            readings = statements.in_order(
                uow.connection, self._interned, device_number, channels, start, end, None, None
            )
            yield from csv_chunks(readings)


def _ids(tenant_id: str, device_id: str) -> tuple[str, str]:
    return require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")


def _channels(connection: Connection, tenant_id: str, device_id: str) -> dict[str, str]:
    """The value type of every channel of the tenant's device, in its profile's order;
    none while telemetry does not know the profile version yet (nothing was accepted then)."""
    if directory.find_known_device(connection, tenant_id, device_id) is None:
        raise NotFound("device not found")
    rules = directory.load_device_rules(connection, device_id)
    return {key: rule.value_type for key, rule in rules.channels.items()} if rules else {}


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, description)])


def _require_period(start: datetime, end: datetime) -> None:
    if start >= end:
        raise _invalid("end", "must be after start")


def _require_buckets(start: datetime, end: datetime, bucket_seconds: int) -> None:
    """Bounds the work of a series: its buckets are answered in one message."""
    if not 1 <= bucket_seconds <= MAX_BUCKET_SECONDS:
        raise _invalid("bucket", f"must be a whole number of seconds from 1 to {MAX_BUCKET_SECONDS}")
    if (end - start) / timedelta(seconds=bucket_seconds) > MAX_BUCKETS:
        raise _invalid(
            "bucket",
            f"at most {MAX_BUCKETS} buckets from start to end: widen the bucket or narrow the period",
        )


def _selected(channels: dict[str, str], named: Sequence[str]) -> list[str]:
    """The channels to read, in code point order: those named, or all the profile's."""
    for index, channel in enumerate(named):
        if channel not in channels:
            raise _invalid(f"channels[{index}]", "no such channel in the device's profile")
    return sorted(set(named) if named else channels)


def _value_type(channels: dict[str, str], channel: str) -> str:
    if channel not in channels:
        raise _invalid("channel", "no such channel in the device's profile")
    return channels[channel]


def _aggregates(named: Sequence[str], value_type: str) -> list[str]:
    """The aggregates to compute, in the contract's order: those named, or all that apply."""
    applicable = [a for a in AGGREGATES if value_type in NUMERIC_TYPES or a not in _NUMERIC_AGGREGATES]
    if not named:
        return applicable
    if set(named) - set(AGGREGATES):
        raise _invalid("aggregates", f"each must be one of {', '.join(AGGREGATES)}")
    if set(named) - set(applicable):
        raise _invalid("aggregates", "min, max and avg need a numeric (float, int) channel")
    return [a for a in applicable if a in named]


def _after(position: list[Any] | None) -> statements.After | None:
    """The (ts, channel) a page continues after. The cursor's fingerprint is no signature,
    so its position is checked like any other input."""
    if position is None:
        return None
    try:
        ts_text, channel = position
        ts = datetime.fromisoformat(ts_text)
    except (ValueError, TypeError):
        raise _invalid("page.cursor", "not a cursor of this list") from None
    if ts.tzinfo is None or not isinstance(channel, str):
        raise _invalid("page.cursor", "not a cursor of this list")
    return ts, channel


def _aggregate_types(aggregates: Sequence[str], value_type: str) -> dict[str, Callable[[Any], Any]]:
    """The type the contract gives each aggregate, by name in the order of the series' columns:
    a window function loses its column's type on SQLite (a bool comes back 0 or 1), and
    PostgreSQL averages integers as numeric."""
    scalar = _SCALAR_TYPES[value_type]
    types = {"count": int, "min": float, "max": float, "avg": float, "first": scalar, "last": scalar}
    return {name: types[name] for name in aggregates}


def _bucket(row: Row, types: dict[str, Callable[[Any], Any]]) -> Bucket:
    start, *values = row
    return Bucket(
        start, **{name: make(value) for (name, make), value in zip(types.items(), values, strict=True)}
    )
