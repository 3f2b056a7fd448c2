"""Accepted readings in columns, as columnar ingest keeps them: per device its timestamps,
and per channel the samples that have a value and those values in one typed array. On the
bus they travel in a compact binary form, the arrays' bytes as they are in memory, so that
neither ingest nor the writer touches a reading one by one.

The form: `GCB1`, then the length of a JSON header (4 bytes, little-endian), the header,
and the arrays it announces one after the other:

`{"id": ..., "tenant_id": ..., "retention_days": 365, "devices": [rows as in JSON batches],
  "columns": [[device_id, samples, [[channel, kind, values], ...]], ...]}`

For each device of `columns`: its `samples` timestamps (int64 ms); then for each channel,
unless `values` equals `samples`, the int32 positions of the samples it has values at, then
its `values` values: float64 for kind "f", int64 for "i", one byte each for "b". A text
channel (kind "s") gives its values in the header as a list in place of their count.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

MAGIC = b"GCB1"
_HEADER_LENGTH = struct.Struct("<I")
_DTYPES: dict[str, np.dtype] = {"f": np.dtype("<f8"), "i": np.dtype("<i8"), "b": np.dtype("?")}
_KINDS = {"f": "f", "i": "i", "b": "b"}
_PYTHON_DTYPES: dict[type, np.dtype] = {float: _DTYPES["f"], int: _DTYPES["i"], bool: _DTYPES["b"]}
_TIMESTAMPS = np.dtype("<i8")
_POSITIONS = np.dtype("<i4")


class MalformedColumns(ValueError):
    """Binary batch data that does not hold what its header announces."""


@dataclass(frozen=True, slots=True)
class KeptColumn:
    """A channel's accepted values of one device: `samples` are the positions in the
    device's timestamps, ascending, that have a value (None: every sample)."""

    channel: str
    values: np.ndarray | list[str]
    samples: np.ndarray | None = None

    @property
    def kind(self) -> str:
        if isinstance(self.values, list):
            return "s"
        return _KINDS[self.values.dtype.kind]


@dataclass(frozen=True, slots=True)
class KeptColumns:
    device_id: str
    ts_ms: np.ndarray
    columns: Sequence[KeptColumn]

    def reading_count(self) -> int:
        return sum(len(column.values) for column in self.columns)

    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        """The samples that have a value, as rows: (ts_ms, {channel: value}), channels in
        column order, values of Python's types."""
        stamps = self.ts_ms.tolist()
        names = [column.channel for column in self.columns]
        lists = [_as_list(column.values) for column in self.columns]
        if all(column.samples is None for column in self.columns):
            rows = zip(*lists, strict=True)
            return [(ts, dict(zip(names, row, strict=True))) for ts, row in zip(stamps, rows, strict=True)]
        by_sample: list[dict[str, Any]] = [{} for _ in stamps]
        for name, column, values in zip(names, self.columns, lists, strict=True):
            positions = range(len(stamps)) if column.samples is None else column.samples.tolist()
            for position, value in zip(positions, values, strict=True):
                by_sample[position][name] = value
        return [(ts, values) for ts, values in zip(stamps, by_sample, strict=True) if values]


def columns_of_rows(device_id: str, samples: Sequence[tuple[int, Mapping[str, Any]]]) -> KeptColumns | None:
    """A device's readings in rows laid out in columns, over the samples that have any, in
    their order; None when a channel's values are not all of one type."""
    samples = [(ts, values) for ts, values in samples if values]
    positions: dict[str, list[int]] = {}
    for index, (_, values) in enumerate(samples):
        for channel in values:
            positions.setdefault(channel, []).append(index)
    columns = []
    for channel, where in positions.items():
        held = [samples[index][1][channel] for index in where]
        kinds = set(map(type, held))
        if len(kinds) != 1:
            return None
        dtype = _PYTHON_DTYPES.get(kinds.pop())
        values = held if dtype is None else np.array(held, dtype=dtype)
        columns.append(KeptColumn(channel, values, None if len(where) == len(samples) else np.array(where)))
    return KeptColumns(device_id, np.array([ts for ts, _ in samples], dtype=np.int64), columns)


def encode(header: dict[str, Any], devices: Sequence[KeptColumns]) -> bytes:
    """The binary form of a batch whose `header` holds everything but the columns."""
    parts: list[bytes] = []
    described = []
    for device in devices:
        channels = []
        parts.append(np.ascontiguousarray(device.ts_ms, _TIMESTAMPS).tobytes())
        for column in device.columns:
            if column.kind == "s":
                channels.append([column.channel, "s", column.values])
            else:
                channels.append([column.channel, column.kind, len(column.values)])
            if column.samples is not None and len(column.samples) != len(device.ts_ms):
                parts.append(np.ascontiguousarray(column.samples, _POSITIONS).tobytes())
            if column.kind != "s":
                parts.append(np.ascontiguousarray(column.values, _DTYPES[column.kind]).tobytes())
        described.append([device.device_id, len(device.ts_ms), channels])
    head = orjson.dumps({**header, "columns": described})
    return b"".join([MAGIC, _HEADER_LENGTH.pack(len(head)), head, *parts])


def decode(body: bytes) -> tuple[dict[str, Any], list[KeptColumns]]:
    """The header and the devices' columns of a binary batch; MalformedColumns when the body
    is not one."""
    if not body.startswith(MAGIC) or len(body) < len(MAGIC) + _HEADER_LENGTH.size:
        raise MalformedColumns("not a binary batch")
    (length,) = _HEADER_LENGTH.unpack_from(body, len(MAGIC))
    start = len(MAGIC) + _HEADER_LENGTH.size
    try:
        header = orjson.loads(body[start : start + length])
        described = header.pop("columns")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise MalformedColumns(f"header: {error}") from error
    arrays = _Arrays(body, start + length)
    try:
        devices = [_device(entry, arrays.take) for entry in described]
    except (ValueError, TypeError, KeyError) as error:
        raise MalformedColumns(f"columns: {error}") from error
    if arrays.offset != len(body):
        raise MalformedColumns(f"{len(body) - arrays.offset} bytes after the last array")
    return header, devices


class _Arrays:
    """Reads the arrays of a body one after another."""

    def __init__(self, body: bytes, offset: int) -> None:
        self._body = body
        self.offset = offset

    def take(self, dtype: np.dtype, count: int) -> np.ndarray:
        end = self.offset + dtype.itemsize * count
        if type(count) is not int or count < 0 or end > len(self._body):
            raise ValueError(f"{count} values past the end of the body")
        array = np.frombuffer(self._body, dtype, count, self.offset)
        self.offset = end
        return array


def _device(entry: Any, take: Callable[[np.dtype, int], np.ndarray]) -> KeptColumns:
    device_id, samples, channels = entry
    if type(device_id) is not str:
        raise TypeError("a device id is not a string")
    ts_ms = take(_TIMESTAMPS, samples)
    return KeptColumns(device_id, ts_ms, list(_columns(channels, samples, take)))


def _columns(
    channels: Any, samples: int, take: Callable[[np.dtype, int], np.ndarray]
) -> Iterator[KeptColumn]:
    for channel, kind, values in channels:
        if type(channel) is not str:
            raise TypeError("a channel name is not a string")
        if kind == "s" and type(values) is not list:
            raise TypeError(f"the values of text channel {channel} are not a list")
        count = len(values) if kind == "s" else values
        positions = None if count == samples else take(_POSITIONS, count)
        if positions is not None and len(positions) and not _ascending_within(positions, samples):
            raise ValueError(f"positions of {channel} are not ascending sample indexes")
        if kind == "s":
            if not all(type(value) is str for value in values):
                raise TypeError(f"a value of text channel {channel} is not a string")
            yield KeptColumn(channel, values, positions)
        else:
            yield KeptColumn(channel, take(_DTYPES[kind], values), positions)


def _ascending_within(positions: np.ndarray, samples: int) -> bool:
    return bool(positions[0] >= 0 and positions[-1] < samples and (np.diff(positions) > 0).all())


def _as_list(values: np.ndarray | list[str]) -> list[Any]:
    return values if isinstance(values, list) else values.tolist()
