"""Telemetry's queries over stored readings, each scoped to the caller's tenant.

Every query first finds the device among the tenant's own (another tenant's device is
NotFound, exactly as one that does not exist) and checks the channels it names against
the device's profile version. Readings are then read along the primary key
(device_id, channel, ts, ...): one index range per channel.
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    FromClause,
    Over,
    Row,
    Select,
    String,
    and_,
    extract,
    false,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)

from services.kit import pagination
from services.kit.db import UnitOfWork, UtcDateTime
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.validation import require_uuid
from services.telemetry import storage
from services.telemetry.domain import Bucket, ChannelValue, LatestValues, ReadingsPage, Series

readings = storage.readings

AGGREGATES = ("min", "max", "avg", "count", "first", "last")
NUMERIC_TYPES = frozenset({"float", "int"})
_NUMERIC_AGGREGATES = frozenset({"min", "max", "avg"})
MAX_BUCKETS = 100_000
# Nothing is kept longer than the longest retention tier, ten years: a wider bucket means nothing.
MAX_BUCKET_SECONDS = 3660 * 86_400
# About one gRPC message of CSV; rows fetched per round trip of the server-side cursor.
CSV_CHUNK_CHARS = 64 * 1024
EXPORT_BATCH_ROWS = 2000

# The column each value type is stored in.
_VALUE_COLUMNS = {
    "float": readings.c.float_value,
    "int": readings.c.int_value,
    "bool": readings.c.bool_value,
    "string": readings.c.text_value,
    "enum": readings.c.text_value,
}
_STORED_VALUES = ("float_value", "int_value", "bool_value", "text_value")
_READING_COLUMNS = (readings.c.channel, readings.c.ts, *(readings.c[name] for name in _STORED_VALUES))
_SCALAR_TYPES: dict[str, Callable[[Any], Any]] = {
    "float": float,
    "int": int,
    "bool": bool,
    "string": str,
    "enum": str,
}
_WINDOW_FUNCTIONS = {
    "min": func.min,
    "max": func.max,
    "avg": func.avg,
    "count": func.count,
    "first": func.first_value,
    "last": func.last_value,
}

# What a device reads while telemetry does not know its profile version yet.
_NO_READINGS = select(*_READING_COLUMNS).where(false())

After = tuple[datetime, str]


class Queries:
    """The read side of telemetry: what the query calls of the API answer."""

    def __init__(self, unit_of_work: Callable[..., UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    def get_latest(self, tenant_id: str, device_id: str) -> LatestValues:
        """The latest value of every channel of the device's profile that has one, in its order."""
        tenant_id, device_id = _ids(tenant_id, device_id)
        with self._unit_of_work(read_only=True) as uow:
            channels = _channels(uow.connection, tenant_id, device_id)
            rows = uow.connection.execute(_latest(uuid.UUID(device_id), list(channels))).all()
        latest = {row.channel: _channel_value(row) for row in rows}
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
            selected = _selected(_channels(uow.connection, tenant_id, device_id), channels)
            query = _in_order(uuid.UUID(device_id), selected, start, end, after, limit + 1)
            found = [_channel_value(row) for row in uow.connection.execute(query)]
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
            query = _series(
                uow.connection.dialect.name,
                uuid.UUID(device_id),
                channel,
                _VALUE_COLUMNS[value_type],
                start,
                end,
                bucket_seconds,
                names,
            )
            rows = uow.connection.execute(query).all()
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
        return self._csv(_in_order(uuid.UUID(device_id), selected, start, end, None, None))

    def _csv(self, query: Select) -> Iterator[bytes]:
        # In a transaction, never committed: PostgreSQL keeps a server-side cursor only in one.
        with self._unit_of_work() as uow:
            yield from _csv_chunks(
                uow.connection.execution_options(yield_per=EXPORT_BATCH_ROWS).execute(query)
            )


def _ids(tenant_id: str, device_id: str) -> tuple[str, str]:
    return require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")


def _channels(connection: Connection, tenant_id: str, device_id: str) -> dict[str, str]:
    """The value type of every channel of the tenant's device, in its profile's order;
    none while telemetry does not know the profile version yet (nothing was accepted then)."""
    if storage.find_known_device(connection, tenant_id, device_id) is None:
        raise NotFound("device not found")
    rules = storage.load_device_rules(connection, device_id)
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


def _after(position: list[Any] | None) -> After | None:
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


def _of_channel(
    device_id: uuid.UUID, channel: str | ColumnElement[str], table: FromClause = readings
) -> ColumnElement[bool]:
    return and_(table.c.device_id == device_id, table.c.channel == channel)


def _in_order(
    device_id: uuid.UUID,
    channels: Sequence[str],
    start: datetime,
    end: datetime,
    after: After | None,
    limit: int | None,
) -> Select:
    """The readings of `channels` in [start, end) past `after`, by time then channel.

    Merged from one index range per channel, each already in time order: a page reads
    at most `limit` rows of each channel, where filtering the device's readings by
    time would sort the whole range on every page. Channels are ranked in code point
    order here rather than by the database's collation, so that the cursor (compared
    in Python) and the order agree.
    """
    if not channels:
        return _NO_READINGS
    ranges = [
        select(
            select(*_READING_COLUMNS, literal(rank).label("rank"))
            .where(_of_channel(device_id, channel), readings.c.ts >= start, readings.c.ts < end)
            .where(*_past(channel, after))
            .order_by(readings.c.ts)
            .limit(limit)
            .subquery()
        )
        for rank, channel in enumerate(channels)
    ]
    merged = union_all(*ranges).subquery()
    return (
        select(*(merged.c[c.name] for c in _READING_COLUMNS))
        .order_by(merged.c.ts, merged.c.rank)
        .limit(limit)
    )


def _past(channel: str, after: After | None) -> list[ColumnElement[bool]]:
    """A channel's readings after the cursor: later in time, or at its time in a later channel."""
    if after is None:
        return []
    ts, after_channel = after
    return [readings.c.ts > ts if channel <= after_channel else readings.c.ts >= ts]


def _latest(device_id: uuid.UUID, channels: Sequence[str]) -> Select:
    """The latest reading of each channel, in one query on both backends: the time of a
    channel's latest is a max() along its index (one descent, as a LATERAL join would do
    on PostgreSQL; SQLite has none), then its row is found by its key."""
    if not channels:
        return _NO_READINGS
    keys = union_all(*(select(literal(channel, String).label("channel")) for channel in channels)).subquery()
    newest = readings.alias("newest")
    latest_ts = select(func.max(newest.c.ts)).where(_of_channel(device_id, keys.c.channel, newest))
    latest = select(keys.c.channel, latest_ts.scalar_subquery().label("ts")).subquery()
    return (
        select(*_READING_COLUMNS)
        .join(latest, and_(readings.c.channel == latest.c.channel, readings.c.ts == latest.c.ts))
        .where(readings.c.device_id == device_id)
    )


def _series(
    dialect: str,
    device_id: uuid.UUID,
    channel: str,
    value: Column[Any],
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    aggregates: Sequence[str],
) -> Select:
    """One row per bucket holding a reading. Every aggregate is a window function over the
    bucket's readings in time order (first and last need that order, which GROUP BY
    cannot keep on both backends), read from each bucket's first row."""
    bucket = _bucket_start(dialect, bucket_seconds, _origin(start, bucket_seconds))

    def over(function: Any) -> Over:
        # One window for all of them, so the readings are sorted once.
        return function.over(partition_by=bucket, order_by=readings.c.ts, rows=(None, None))

    windows = (
        select(
            bucket.label("start"),
            over(func.row_number()).label("nth"),
            *(over(_WINDOW_FUNCTIONS[name](value)).label(name) for name in aggregates),
        )
        .where(
            _of_channel(device_id, channel), readings.c.ts >= start, readings.c.ts < end, value.is_not(None)
        )
        .subquery()
    )
    return (
        select(windows.c.start, *(windows.c[name] for name in aggregates))
        .where(windows.c.nth == 1)
        .order_by(windows.c.start)
    )


def _origin(start: datetime, bucket_seconds: int) -> int:
    """The start of the bucket holding `start`, in seconds since the epoch: a multiple of
    the bucket at or before every reading of the series."""
    return math.floor(start.timestamp()) // bucket_seconds * bucket_seconds


def _bucket_start(dialect: str, bucket_seconds: int, origin: int) -> ColumnElement[datetime]:
    """The start of a reading's bucket. Binning from `origin` rather than from the epoch
    keeps the division on non-negative numbers, where truncation is the floor."""
    if dialect == "postgresql":
        width = timedelta(seconds=bucket_seconds)
        return func.date_bin(width, readings.c.ts, func.to_timestamp(origin), type_=UtcDateTime())
    # SQLite keeps times as text; extract() renders as strftime('%s'), whole seconds.
    seconds = origin + (extract("epoch", readings.c.ts) - origin) // bucket_seconds * bucket_seconds
    return type_coerce(func.datetime(seconds, "unixepoch"), UtcDateTime())


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


def _stored_value(row: Row) -> float | int | bool | str:
    """The value of a reading, typed by the one column of it that is set."""
    return next(value for value in (getattr(row, name) for name in _STORED_VALUES) if value is not None)


def _channel_value(row: Row) -> ChannelValue:
    return ChannelValue(row.channel, row.ts, _stored_value(row))


def _csv_chunks(rows: Iterable[Row]) -> Iterator[bytes]:
    """Readings as CSV in chunks of about CSV_CHUNK_CHARS. The csv module's defaults are
    RFC 4180's: CRLF line ends, a field quoted when it holds a comma, a quote or a line
    break, and quotes doubled."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("ts", "channel", "value"))
    for row in rows:
        writer.writerow((_rfc3339(row.ts), row.channel, _csv_value(_stored_value(row))))
        if buffer.tell() >= CSV_CHUNK_CHARS:
            yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def _rfc3339(ts: datetime) -> str:
    """UTC with milliseconds, the precision readings are sent with: 2026-03-01T12:00:00.250Z."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _csv_value(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
