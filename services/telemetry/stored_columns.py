"""Readings that came in columns, laid out for storage a whole array at a time: the rows to
copy (one per device, tier and instant, its values packed against its channel set) and
the aggregates they add to the rollups, with no Python step per reading.

A device's samples that have values in the same channels share a channel set: usually
all of them, when every column has a value at every sample.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from services.kit.batch_columns import KeptColumn, KeptColumns
from services.kit.batches import AcceptedBatch
from services.telemetry.array_rollups import ArrayRollups
from services.telemetry.packed_columns import pack_columns
from services.telemetry.packing import ChannelSet, pack
from services.telemetry.rollups import Reading, Rollups, SeriesKey, rollups_of

# A device's samples of one channel set: their positions, and the values of each of the
# set's channels at them, in the set's order.
SampleGroup = tuple[ChannelSet, np.ndarray, list[np.ndarray | list]]


def sample_groups(device: KeptColumns) -> Iterator[SampleGroup]:
    """The device's samples grouped by the channels they have values in."""
    columns = sorted(device.columns, key=lambda column: column.channel)
    if not columns:
        return
    if all(column.samples is None for column in columns):
        positions = np.arange(len(device.ts_ms))
        yield _channel_set(columns), positions, [column.values for column in columns]
        return
    present = np.zeros((len(device.ts_ms), len(columns)), dtype=bool)
    for index, column in enumerate(columns):
        present[slice(None) if column.samples is None else column.samples, index] = True
    patterns, group_of = np.unique(present, axis=0, return_inverse=True)
    for group, pattern in enumerate(patterns):
        having = [column for column, has in zip(columns, pattern.tolist(), strict=True) if has]
        if having:
            positions = np.flatnonzero(group_of.ravel() == group)
            yield _channel_set(having), positions, [_values_at(column, positions) for column in having]


# Each device of a flush in columns, with its batch's retention tier and its sample groups:
# found once, for the channel sets to intern and then for the rows to copy.
DeviceGroups = list[tuple[int, KeptColumns, list[SampleGroup]]]


def grouped(batches: Sequence[AcceptedBatch]) -> DeviceGroups:
    return [(b.retention_days, device, list(sample_groups(device))) for b in batches for device in b.columns]


def channel_sets(devices: DeviceGroups) -> set[ChannelSet]:
    return {group[0] for _, _, groups in devices for group in groups}


@dataclass
class CopyRows:
    """Rows of readings in arrays, ready for a binary COPY."""

    device_number: list[np.ndarray] = field(default_factory=list)
    retention_days: list[np.ndarray] = field(default_factory=list)
    ts_ms: list[np.ndarray] = field(default_factory=list)
    channel_set: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)
    lengths: list[np.ndarray] = field(default_factory=list)

    def joined(self) -> tuple[np.ndarray, ...]:
        parts = (
            self.device_number,
            self.retention_days,
            self.ts_ms,
            self.channel_set,
            self.vals,
            self.lengths,
        )
        return tuple(np.concatenate(part) for part in parts)


def copy_rows(
    devices: DeviceGroups, numbers: Mapping[str, int], set_ids: Mapping[ChannelSet, int]
) -> CopyRows | None:
    """The rows of every device's sample groups; None when there are none."""
    by_set: dict[ChannelSet, list[tuple[int, int, np.ndarray, list[np.ndarray | list]]]] = defaultdict(list)
    for retention_days, device, groups in devices:
        number = numbers[device.device_id]
        for channel_set, positions, values in groups:
            by_set[channel_set].append((number, retention_days, device.ts_ms[positions], values))
    if not by_set:
        return None
    rows = CopyRows()
    for channel_set, groups in by_set.items():
        counts = [len(ts) for _, _, ts, _ in groups]
        rows.device_number.append(np.repeat(np.array([g[0] for g in groups], np.int32), counts))
        rows.retention_days.append(np.repeat(np.array([g[1] for g in groups], np.int16), counts))
        rows.ts_ms.append(np.concatenate([ts for _, _, ts, _ in groups]))
        rows.channel_set.append(np.full(sum(counts), set_ids[channel_set], np.int32))
        columns = [_concatenated([g[3][index] for g in groups]) for index in range(len(channel_set))]
        vals, lengths = _packed(channel_set, columns)
        rows.vals.append(vals)
        rows.lengths.append(lengths)
    return rows


def rollups(batches: Sequence[AcceptedBatch]) -> tuple[Rollups, ArrayRollups]:
    """What the columns' readings add to their rollups: of text values, added up reading by
    reading; of numeric and bool values, in arrays."""
    # A device may come more than once in a flush: each series is numbered once.
    series: dict[SeriesKey, int] = {}
    by_kind: dict[str, tuple[list[np.ndarray], ...]] = defaultdict(lambda: ([], [], []))
    text: list[Reading] = []
    for batch in batches:
        for device in batch.columns:
            for column in device.columns:
                key = (device.device_id, column.channel, batch.retention_days)
                ts = device.ts_ms if column.samples is None else device.ts_ms[column.samples]
                if isinstance(column.values, list):
                    text += [
                        (key, stamp, value) for stamp, value in zip(ts.tolist(), column.values, strict=True)
                    ]
                    continue
                index, stamps, values = by_kind[column.kind]
                index.append(np.full(len(ts), series.setdefault(key, len(series)), np.int64))
                stamps.append(ts)
                values.append(column.values)
    arrays = ArrayRollups(list(series))
    for index, stamps, values in by_kind.values():
        arrays.add(*(np.concatenate(part) for part in (index, stamps, values)))
    return rollups_of(text), arrays


def span(device: KeptColumns) -> tuple[int, int]:
    """The first and last time of the device's readings, in ms."""
    return int(device.ts_ms.min()), int(device.ts_ms.max())


def _channel_set(columns: Sequence[KeptColumn]) -> ChannelSet:
    return tuple((column.channel, column.kind) for column in columns)


def _values_at(column: KeptColumn, positions: np.ndarray) -> np.ndarray | list:
    at = positions if column.samples is None else np.searchsorted(column.samples, positions)
    if isinstance(column.values, list):
        return [column.values[i] for i in at.tolist()]
    return column.values[at]


def _concatenated(parts: list[np.ndarray | list]) -> np.ndarray | list:
    if parts and isinstance(parts[0], list):
        return [value for part in parts for value in part]  # type: ignore[union-attr]
    return np.concatenate(parts)  # type: ignore[arg-type]


def _packed(channel_set: ChannelSet, columns: list[np.ndarray | list]) -> tuple[np.ndarray, np.ndarray]:
    """The rows' values packed: in arrays, unless the set has text, which packs row by row."""
    if all(kind != "s" for _, kind in channel_set):
        return pack_columns(channel_set, columns)  # type: ignore[arg-type]
    names = [channel for channel, _ in channel_set]
    lists = [column if isinstance(column, list) else column.tolist() for column in columns]
    packed = [pack(channel_set, dict(zip(names, row, strict=True))) for row in zip(*lists, strict=True)]
    lengths = np.fromiter(map(len, packed), np.int64, len(packed))
    return np.frombuffer(b"".join(packed), np.uint8), lengths
