"""One device's readings in columns checked against its rules: verdicts indexed as
those of the same readings in rows (the sample being the index into the timestamps),
and the accepted readings kept in columns for the bus."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from services.kit.batch_columns import KeptColumn, KeptColumns
from services.kit.batches import Scalar
from services.telemetry.columns import Column, DeviceColumns, check_column, typed
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


def check_columns(
    device_index: int,
    rules: DeviceRules,
    device: DeviceColumns,
    window: tuple[int, int],
    result: IngestResult,
) -> KeptColumns | None:
    """The accepted values of one device, if any; the verdicts on the rest go into `result`."""
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
    kept = [column for column in kept if len(column.values)]
    result.accepted += sum(len(column.values) for column in kept)
    return _without_empty_samples(rules.device_id, ts, kept) if kept else None


def _without_empty_samples(device_id: str, ts: np.ndarray, kept: list[KeptColumn]) -> KeptColumns:
    """The kept columns over the samples that kept any value, so that every timestamp that
    travels has readings; a column with a value at every sample says so with None."""
    used = np.zeros(len(ts), dtype=bool)
    for column in kept:
        used[column.samples] = True
    position = np.cumsum(used) - 1
    ts = ts[used]
    return KeptColumns(
        device_id,
        ts,
        [
            KeptColumn(c.channel, c.values, None if len(c.values) == len(ts) else position[c.samples])
            for c in kept
        ],
    )


def _check(
    rules: DeviceRules, column: Column, samples: np.ndarray, considered: np.ndarray, verdicts: _Verdicts
) -> KeptColumn | None:
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
        return KeptColumn(channel, typed(rule.value_type, checked.stored), samples)
    positions = np.flatnonzero(checked.accepted)
    if not len(positions):
        return None
    return KeptColumn(channel, typed(rule.value_type, _at(checked.stored, positions)), samples[positions])


def _at(values: np.ndarray | list[Scalar], positions: np.ndarray) -> np.ndarray | list[Scalar]:
    if isinstance(values, np.ndarray):
        return values[positions]
    return [values[p] for p in positions.tolist()]
