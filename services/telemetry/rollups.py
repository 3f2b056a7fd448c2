"""Exact rollups: each device's channel summed up per UTC minute, hour and day.

The writer adds to them in the transaction that stores their readings, and only what it
stored for the first time, so they stay exact when a batch is delivered again, a reading
is sent twice, or readings come late and out of order: a rollup always equals the
aggregate of its stored readings. A series whose buckets and range are whole multiples
of a resolution is answered from the rollups of that resolution.

Count, first and last (the earliest and latest reading's value) are kept for every
channel; sum, sum of squares, min and max for numeric ones (float and int; not bool).

Readings given in columns are rolled up with numpy (`array_rollups.py`), to the same
aggregates `rollups_of` adds up one reading at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from services.kit.batches import AcceptedBatch, Scalar

MINUTE, HOUR, DAY = 60, 3600, 86_400
RESOLUTIONS = (MINUTE, HOUR, DAY)

# (device_id, channel, retention_days): one series of one retention tier.
SeriesKey = tuple[str, str, int]
# A reading: its series, time in ms and value.
Reading = tuple[SeriesKey, int, Scalar]


@dataclass(slots=True)
class Aggregate:
    count: int
    sum: float | None
    sumsq: float | None
    min: float | None
    max: float | None
    first_ts: int
    first: Scalar
    last_ts: int
    last: Scalar

    def copy(self) -> Aggregate:
        # Positional: dataclasses.replace costs several times more, on every rollup.
        return Aggregate(
            self.count,
            self.sum,
            self.sumsq,
            self.min,
            self.max,
            self.first_ts,
            self.first,
            self.last_ts,
            self.last,
        )

    def add(self, other: Aggregate) -> None:
        self.count += other.count
        if self.sum is not None and other.sum is not None:
            self.sum += other.sum
            self.sumsq += other.sumsq  # type: ignore[operator]
            self.min = min(self.min, other.min)  # type: ignore[type-var]
            self.max = max(self.max, other.max)  # type: ignore[type-var]
        if other.first_ts < self.first_ts:
            self.first_ts, self.first = other.first_ts, other.first
        if other.last_ts > self.last_ts:
            self.last_ts, self.last = other.last_ts, other.last


# (series, resolution in seconds, bucket start in ms) -> its aggregate.
Rollups = dict[tuple[SeriesKey, int, int], Aggregate]


def rollups_of(readings: Iterable[Reading]) -> Rollups:
    """The aggregates the readings add to each rollup they fall in: per minute from the
    readings, per hour and day from the minutes."""
    minutes = _minutes_of(readings)
    return minutes | _hours_and_days(minutes)


def _minutes_of(readings: Iterable[Reading]) -> Rollups:
    # Per series and minute: [first_ts, first, last_ts, last, values]; the sums come at
    # the end from each minute's list, at C speed.
    held: dict[tuple[SeriesKey, int], list[Any]] = {}
    for series, ts_ms, value in readings:
        key = (series, ts_ms - ts_ms % 60_000)
        minute = held.get(key)
        if minute is None:
            held[key] = [ts_ms, value, ts_ms, value, [value]]
            continue
        if ts_ms < minute[0]:
            minute[0], minute[1] = ts_ms, value
        elif ts_ms >= minute[2]:
            minute[2], minute[3] = ts_ms, value
        minute[4].append(value)
    return {(series, MINUTE, start): _aggregate(*m) for (series, start), m in held.items()}


def _hours_and_days(minutes: Rollups) -> Rollups:
    coarser: Rollups = {}
    for resolution in (HOUR, DAY):
        width = resolution * 1000
        for (series, _, start), aggregate in minutes.items():
            key = (series, resolution, start - start % width)
            known = coarser.get(key)
            if known is None:
                coarser[key] = aggregate.copy()
            else:
                known.add(aggregate)
    return coarser


def _aggregate(first_ts: int, first: Scalar, last_ts: int, last: Scalar, values: list[Scalar]) -> Aggregate:
    if first.__class__ not in (float, int):
        return Aggregate(len(values), None, None, None, None, first_ts, first, last_ts, last)
    numbers = [float(value) for value in values]  # type: ignore[arg-type]
    return Aggregate(
        len(values),
        sum(numbers),
        sum([n * n for n in numbers]),
        min(numbers),
        max(numbers),
        first_ts,
        first,
        last_ts,
        last,
    )


def combined(*parts: Rollups) -> Rollups:
    """The aggregates of every part, added up where they share a rollup."""
    total: Rollups = {}
    for part in parts:
        for key, aggregate in part.items():
            known = total.get(key)
            if known is None:
                total[key] = aggregate
            else:
                known.add(aggregate)
    return total


def readings_of(batches: Iterable[AcceptedBatch]) -> Iterator[Reading]:
    for batch in batches:
        for device_id, samples in batch.devices:
            for ts_ms, values in samples:
                for channel, value in values.items():
                    yield (device_id, channel, batch.retention_days), ts_ms, value


def resolution_for(start_s: float, end_s: float, bucket_seconds: int) -> int | None:
    """The coarsest resolution whose rollups answer a series of `bucket_seconds` buckets
    over [start, end) (in seconds since the epoch) exactly: one that divides the buckets
    and both ends; None when only the readings can."""
    fitting = [r for r in RESOLUTIONS if bucket_seconds % r == 0 and start_s % r == 0 and end_s % r == 0]
    return fitting[-1] if fitting else None
