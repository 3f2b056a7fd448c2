"""Rows of readings, and buckets of rollups, in PostgreSQL's binary COPY format, built a
whole batch at a time.

`bulk.copy` hands psycopg one row at a time, whose per-row Python caps the writer far
below a million readings a second. Here the rows' fixed part (field count, then each
field's length and big-endian value: int4 device number, int2 retention tier, timestamptz
as µs since 2000-01-01, int4 channel set, and the length of the packed values) is one
numpy record a row, and the rows' packed values (`packed_columns.pack_columns`) are laid
between the records with one mask, so the COPY's bytes take a few whole-array steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from services.telemetry.array_rollups import Buckets
from services.telemetry.queries.bulk import COLUMNS

_STATEMENT = f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
# The signature, no flags and no header extension; the trailer is a field count of -1.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(4) + bytes(4)
_TRAILER = b"\xff\xff"
# Each row's bytes before its packed values, the types of `bulk._COPY_TYPES` in order.
_ROW_START = np.dtype(
    [
        ("fields", ">i2"),
        ("device_number_size", ">i4"),
        ("device_number", ">i4"),
        ("retention_days_size", ">i4"),
        ("retention_days", ">i2"),
        ("ts_size", ">i4"),
        ("ts", ">i8"),
        ("channel_set_size", ">i4"),
        ("channel_set", ">i4"),
        ("vals_size", ">i4"),
    ]
)
# PostgreSQL's epoch, 2000-01-01, in ms since the Unix one.
_POSTGRES_EPOCH_MS = 946_684_800_000
_INT64 = np.iinfo(np.int64)
# The timestamps whose µs since PostgreSQL's epoch fit in an int64.
_TS_MS_RANGE = (-(-_INT64.min // 1000) + _POSTGRES_EPOCH_MS, _INT64.max // 1000 + _POSTGRES_EPOCH_MS)


def readings_copy_data(
    device_numbers: npt.ArrayLike,
    retention_days: npt.ArrayLike,
    ts_ms: npt.ArrayLike,
    channel_sets: npt.ArrayLike,
    vals: np.ndarray,
    lengths: np.ndarray,
) -> np.ndarray:
    """The whole binary COPY (header, rows, trailer; uint8) of readings rows whose packed
    values are `vals`' bytes, `lengths[i]` of them for row i in order. The other columns
    hold a value per row, or one for all (a batch's tier); ts_ms in ms since the epoch."""
    if int(np.sum(lengths)) != vals.size:
        raise ValueError(f"{vals.size} bytes of values for rows of {int(np.sum(lengths))}")
    starts = _row_starts(device_numbers, retention_days, ts_ms, channel_sets, lengths)
    data = np.empty(len(_HEADER) + starts.nbytes + vals.size + len(_TRAILER), np.uint8)
    data[: len(_HEADER)] = np.frombuffer(_HEADER, np.uint8)
    data[data.size - len(_TRAILER) :] = np.frombuffer(_TRAILER, np.uint8)
    body = data[len(_HEADER) : data.size - len(_TRAILER)]
    # Row by row, the record's bytes then the values': which bytes of the body are values.
    spans = np.empty(2 * len(lengths), np.int64)
    spans[0::2], spans[1::2] = _ROW_START.itemsize, lengths
    in_vals = np.repeat(np.tile(np.array([False, True]), len(lengths)), spans)
    body[in_vals] = vals
    body[~in_vals] = starts.view(np.uint8)
    return data


def _row_starts(
    device_numbers: npt.ArrayLike,
    retention_days: npt.ArrayLike,
    ts_ms: npt.ArrayLike,
    channel_sets: npt.ArrayLike,
    lengths: np.ndarray,
) -> np.ndarray:
    """Each row's bytes before its values, a `_ROW_START` record."""
    rows = len(lengths)
    starts = np.empty(rows, _ROW_START)
    starts["fields"] = len(COLUMNS)
    for name, values, dtype in (
        ("device_number", device_numbers, np.int32),
        ("retention_days", retention_days, np.int16),
        ("channel_set", channel_sets, np.int32),
    ):
        starts[name] = _checked(name, values, rows, np.iinfo(dtype).min, np.iinfo(dtype).max)
        starts[f"{name}_size"] = np.dtype(dtype).itemsize
    starts["ts_size"] = 8
    starts["ts"] = (_checked("ts_ms", ts_ms, rows, *_TS_MS_RANGE) - _POSTGRES_EPOCH_MS) * 1000
    starts["vals_size"] = lengths
    return starts


def copy_readings(driver: psycopg.Connection, data: np.ndarray) -> None:
    """Copies the rows of `readings_copy_data` into readings over psycopg's connection, in
    its transaction."""
    copy_block(driver, _STATEMENT, data)


def copy_block(driver: psycopg.Connection, statement: str, data: np.ndarray) -> None:
    """Runs a binary COPY statement on `data`, a whole COPY. psycopg passes what `Copy.write`
    is given on untouched (it adds the header and trailer only to rows it formats itself)."""
    with driver.cursor() as cursor, cursor.copy(statement) as copying:
        copying.write(memoryview(data))


def _checked(name: str, values: npt.ArrayLike, rows: int, lowest: int, highest: int) -> np.ndarray:
    """The values as int64, one per row, once each is known to be in [lowest, highest]."""
    array = np.broadcast_to(np.asarray(values), (rows,))
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} of {array.dtype}, not integers")
    if rows and (array.min() < lowest or array.max() > highest):
        raise ValueError(f"{name} beyond [{lowest}, {highest}]")
    return array.astype(np.int64)


# The columns of rollups' incoming buckets (`queries/rollups.py`), a series by its number.
BUCKET_COLUMNS = (
    "series", "resolution", "bucket", "count", "sum", "sumsq", "min", "max", "first_ts", "last_ts",
    "first_float", "first_int", "first_bool", "first_text", "last_float", "last_int", "last_bool", "last_text",
)  # fmt: skip
# The typed column of first and last each kind of value fills; the others are NULL.
_KIND_COLUMNS = {"f": ("float", ">f8"), "i": ("int", ">i8"), "b": ("bool", "u1")}
_NULL = -1


def buckets_copy_data(parts: Sequence[tuple[int, Buckets]], numbers: np.ndarray) -> np.ndarray:
    """The whole binary COPY of the buckets of each (resolution, buckets) into
    `BUCKET_COLUMNS`, a record a bucket: its layout fixed by its kind of value. A bucket's
    series is given the number `numbers` has at its index."""
    records = [_bucket_records(resolution, buckets, numbers).view(np.uint8) for resolution, buckets in parts]
    header, trailer = np.frombuffer(_HEADER, np.uint8), np.frombuffer(_TRAILER, np.uint8)
    return np.concatenate([header, *records, trailer])


def _bucket_records(resolution: int, buckets: Buckets, numbers: np.ndarray) -> np.ndarray:
    """One `BUCKET_COLUMNS` record per bucket: each field its length then its big-endian
    value, or the length -1 of NULL."""
    kind = buckets.first.dtype.kind
    typed_name, typed_dtype = _KIND_COLUMNS[kind]
    fields: list[tuple[str, str, Any]] = [("fields", ">i2", len(BUCKET_COLUMNS))]

    def put(name: str, dtype: str, values: Any) -> None:
        if values is None:
            fields.append((f"{name}_size", ">i4", _NULL))
        else:
            fields.extend([(f"{name}_size", ">i4", np.dtype(dtype).itemsize), (name, dtype, values)])

    put("series", ">i4", numbers[buckets.series])
    put("resolution", ">i4", resolution)
    put("bucket", ">i8", _postgres_us(buckets.start))
    put("count", ">i8", buckets.count)
    for name in ("sum", "sumsq", "min", "max"):
        put(name, ">f8", getattr(buckets, name))
    put("first_ts", ">i8", _postgres_us(buckets.first_ts))
    put("last_ts", ">i8", _postgres_us(buckets.last_ts))
    for end in ("first", "last"):
        for name in ("float", "int", "bool", "text"):
            put(f"{end}_{name}", typed_dtype, getattr(buckets, end) if name == typed_name else None)
    records = np.empty(len(buckets.start), [(name, dtype) for name, dtype, _ in fields])
    for name, _, values in fields:
        records[name] = values
    return records


def _postgres_us(ts_ms: np.ndarray) -> np.ndarray:
    return (ts_ms - _POSTGRES_EPOCH_MS) * 1000
