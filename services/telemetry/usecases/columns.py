"""One device's readings in columns checked against its rules: verdicts indexed as
those of the same readings in rows (the sample being the index into the timestamps),
and the accepted readings laid out as rows for the bus."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from services.kit.batches import Scalar
from services.telemetry.columns import Column, DeviceColumns, check_column
from services.telemetry.rules import DeviceRules, Refusal
from services.telemetry.usecases.verdicts import (
    DUPLICATE_CHANNEL,
    LENGTH_MISMATCH,
    UNKNOWN_CHANNEL,
    Flag,
    IngestResult,
    Rejection,
    outside_window,
)

# A sample's slot of a channel that kept no value there.
_ABSENT = object()


@dataclass
class _Verdicts:
    """A device's verdicts as they are found, column by column, put in the order of rows
    (by sample, then channel) when done."""

    device_index: int
    rejections: list[tuple[Rejection, int]] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def reject(self, sample_index: int, channel: str, refusal: Refusal, readings: int = 1) -> None:
        rejection = Rejection(self.device_index, sample_index, channel, refusal.reason, refusal.detail)
        self.rejections.append((rejection, readings))

    def into(self, result: IngestResult) -> None:
        self.rejections.sort(key=lambda pair: pair[0].sample_index)
        for rejection, readings in self.rejections:
            result.rejected += readings
            result.rejections.append(rejection)
        self.flags.sort(key=lambda flag: flag.sample_index)
        result.flags += self.flags


@dataclass(frozen=True, slots=True)
class _Kept:
    channel: str
    samples: np.ndarray
    values: list[Scalar]


def check_columns(
    device_index: int,
    rules: DeviceRules,
    device: DeviceColumns,
    window: tuple[int, int],
    result: IngestResult,
) -> list[tuple[int, dict[str, Scalar]]]:
    """The accepted values of one device by sample; the rest go into `result`."""
    ts = device.ts_ms
    earliest, latest = window
    in_window = (ts >= earliest) & (ts <= latest)
    verdicts = _Verdicts(device_index)
    # Values per sample, which a sample refused whole counts as its readings.
    values_at = np.zeros(len(ts), dtype=np.int64)
    given = Counter(column.channel for column in device.columns)
    kept = []
    for column in device.columns:
        samples = column.sample_indexes(len(ts))
        if given[column.channel] > 1 or samples is None:
            refusal = DUPLICATE_CHANNEL if given[column.channel] > 1 else LENGTH_MISMATCH
            verdicts.reject(-1, column.channel, refusal, len(column.values))
            continue
        values_at[samples] += 1
        column_kept = _check(rules, column, samples, in_window[samples], verdicts)
        if column_kept is not None:
            kept.append(column_kept)
    for sample in np.flatnonzero(~in_window).tolist():
        verdicts.reject(sample, "", outside_window(int(ts[sample]), earliest), int(values_at[sample]))
    verdicts.into(result)
    result.accepted += sum(len(column.values) for column in kept)
    return _by_sample(ts, kept)


def _check(
    rules: DeviceRules, column: Column, samples: np.ndarray, considered: np.ndarray, verdicts: _Verdicts
) -> _Kept | None:
    """The column's accepted values, its verdicts in `verdicts`."""
    channel = column.channel
    rule = rules.channels.get(channel)
    if rule is None:
        for sample in samples[considered].tolist():
            verdicts.reject(sample, channel, UNKNOWN_CHANNEL)
        return None
    checked = check_column(rule, column.values, considered)
    for position, refusal in checked.refusals.items():
        verdicts.reject(int(samples[position]), channel, refusal)
    index = verdicts.device_index
    verdicts.flags += [
        Flag(index, sample, channel, rule.range_detail) for sample in samples[checked.flagged].tolist()
    ]
    if checked.accepted.all():
        return _Kept(channel, samples, checked.stored)
    positions = np.flatnonzero(checked.accepted).tolist()
    if not positions:
        return None
    stored = checked.stored
    return _Kept(channel, samples[positions], [stored[p] for p in positions])


def _by_sample(ts: np.ndarray, kept: list[_Kept]) -> list[tuple[int, dict[str, Scalar]]]:
    """The kept values as rows: one per sample that kept any, channels in column order."""
    if not kept:
        return []
    stamps = ts.tolist()
    names = [column.channel for column in kept]
    if all(len(column.values) == len(stamps) for column in kept):
        # Every column kept whole (the usual case): its values are already in sample order.
        rows = zip(*(column.values for column in kept), strict=True)
        return [(stamp, dict(zip(names, row, strict=True))) for stamp, row in zip(stamps, rows, strict=True)]
    grid = []
    for column in kept:
        slots = np.full(len(stamps), _ABSENT, dtype=object)
        slots[column.samples] = column.values
        grid.append(slots.tolist())
    samples = []
    for stamp, row in zip(stamps, zip(*grid, strict=True), strict=True):
        values = {name: value for name, value in zip(names, row, strict=True) if value is not _ABSENT}
        if values:
            samples.append((stamp, values))
    return samples
