"""Exact rollups: each device's channel summed up per UTC minute, hour and day.

The writer adds to them in the transaction that stores their readings, and only what it
stored for the first time, so they stay exact when a batch is delivered again, a reading
is sent twice, or readings come late and out of order: a rollup always equals the
aggregate of its stored readings. A series whose buckets and range are whole multiples
of a resolution is answered from the rollups of that resolution.

Count, first and last (the earliest and latest reading's value) are kept for every
channel; sum, sum of squares, min and max for numeric ones (float and int; not bool).

Readings given in columns are rolled up by `rollups_of_arrays` with numpy, to the same
aggregates `rollups_of` adds up one reading at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

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


@dataclass(slots=True)
class _Buckets:
    """The aggregates of one resolution as arrays, in order of series then start: a reading
    is a bucket of its own, starting at its time. The sums are None for bools."""

    series: np.ndarray
    start: np.ndarray
    count: np.ndarray
    sum: np.ndarray | None
    sumsq: np.ndarray | None
    min: np.ndarray | None
    max: np.ndarray | None
    first_ts: np.ndarray
    first: np.ndarray
    last_ts: np.ndarray
    last: np.ndarray


def rollups_of_arrays(
    series: Sequence[SeriesKey], series_index: np.ndarray, ts_ms: np.ndarray, values: np.ndarray
) -> Rollups:
    """`rollups_of` of the readings (series[series_index[i]], ts_ms[i], values[i]), whose
    values are all float64, int64 or bool (floats finite, as ingest accepts them), and of
    one series at distinct times: the readings grouped by series and bucket with numpy, in
    a few whole-array steps per resolution instead of Python per reading. Sums may differ
    from `rollups_of`'s in their last bits (they add in another order); the rest is equal,
    down to the Python types."""
    buckets = _readings(len(series), series_index, ts_ms, values)
    rollups: Rollups = {}
    if not len(buckets.start):
        return rollups
    for resolution in RESOLUTIONS:
        buckets = _coarser(buckets, resolution * 1000)
        rollups.update(_as_rollups(series, resolution, buckets))
    return rollups


def _readings(count: int, series_index: np.ndarray, ts_ms: np.ndarray, values: np.ndarray) -> _Buckets:
    """The readings as buckets of their own, in order of series then time."""
    if not len(series_index) == len(ts_ms) == len(values):
        raise ValueError("series_index, ts_ms and values of different lengths")
    if values.dtype.kind not in "fib":
        raise ValueError(f"values of {values.dtype}, not float, int or bool")
    if len(series_index) and not 0 <= series_index.min() <= series_index.max() < count:
        raise ValueError(f"series indexes beyond the {count} series given")
    series_index, ts_ms = series_index.astype(np.int64, copy=False), ts_ms.astype(np.int64, copy=False)
    order = _series_time_order(series_index, ts_ms)
    if order is not None:
        series_index, ts_ms, values = series_index[order], ts_ms[order], values[order]
        if ((series_index[1:] == series_index[:-1]) & (ts_ms[1:] == ts_ms[:-1])).any():
            raise ValueError("two readings of one series at one time")
    numbers = None if values.dtype.kind == "b" else values.astype(np.float64, copy=False)
    with np.errstate(over="ignore"):
        squares = None if numbers is None else numbers * numbers
    ones = np.ones(len(values), np.int64)
    return _Buckets(
        series_index, ts_ms, ones, numbers, squares, numbers, numbers, ts_ms, values, ts_ms, values
    )


def _series_time_order(series_index: np.ndarray, ts_ms: np.ndarray) -> np.ndarray | None:
    """The order of the readings by series then time; None when they are in it already (as
    readings sent in columns, a device's channel after channel, mostly are)."""
    same_series = series_index[1:] == series_index[:-1]
    if ((series_index[1:] > series_index[:-1]) | (same_series & (ts_ms[1:] > ts_ms[:-1]))).all():
        return None
    earliest, span = int(ts_ms.min()), int(ts_ms.max()) - int(ts_ms.min()) + 1
    if (int(series_index.max()) + 1) * span > np.iinfo(np.int64).max:
        return np.lexsort((ts_ms, series_index))
    # One key, sorted stably: runs already in order (a series' readings) cost little.
    return np.argsort(series_index * span + (ts_ms - earliest), kind="stable")


def _coarser(buckets: _Buckets, width_ms: int) -> _Buckets:
    """The buckets of `width_ms` that the (finer) buckets fall in, aggregated."""
    start = buckets.start - buckets.start % width_ms
    heads = np.flatnonzero(
        np.concatenate(([True], (buckets.series[1:] != buckets.series[:-1]) | (start[1:] != start[:-1])))
    )
    tails = np.append(heads[1:], len(start)) - 1
    numeric = buckets.sum is not None
    return _Buckets(
        buckets.series[heads],
        start[heads],
        np.add.reduceat(buckets.count, heads),
        np.add.reduceat(buckets.sum, heads) if numeric else None,
        np.add.reduceat(buckets.sumsq, heads) if numeric else None,
        np.minimum.reduceat(buckets.min, heads) if numeric else None,
        np.maximum.reduceat(buckets.max, heads) if numeric else None,
        buckets.first_ts[heads],
        buckets.first[heads],
        buckets.last_ts[tails],
        buckets.last[tails],
    )


def _as_rollups(
    series: Sequence[SeriesKey], resolution: int, buckets: _Buckets
) -> Iterator[tuple[Any, Aggregate]]:
    """The buckets as rollups: Python values, a key and an `Aggregate` each."""
    keys = zip(map(series.__getitem__, buckets.series.tolist()), repeat(resolution), buckets.start.tolist())
    sums = [
        repeat(None) if part is None else part.tolist()
        for part in (buckets.sum, buckets.sumsq, buckets.min, buckets.max)
    ]
    aggregates = map(
        Aggregate,
        buckets.count.tolist(),
        *sums,
        buckets.first_ts.tolist(),
        buckets.first.tolist(),
        buckets.last_ts.tolist(),
        buckets.last.tolist(),
    )
    return zip(keys, aggregates, strict=True)


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
