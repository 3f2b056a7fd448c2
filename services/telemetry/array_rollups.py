"""Rollups of readings given as arrays (those that came in columns), with numpy: the
readings grouped by series and bucket in a few whole-array steps per resolution instead of
Python per reading, to the aggregates `rollups.rollups_of` adds up one at a time. The
writer copies them to the database as arrays too (`queries/binary_copy.py`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from services.telemetry.rollups import RESOLUTIONS, Aggregate, Rollups, SeriesKey


@dataclass(slots=True)
class Buckets:
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


@dataclass
class ArrayRollups:
    """The rollups readings given as arrays add to, as arrays: for each resolution, and
    each kind of value added, the buckets of `series`."""

    series: list[SeriesKey] = field(default_factory=list)
    buckets: list[tuple[int, Buckets]] = field(default_factory=list)

    def add(self, series_index: np.ndarray, ts_ms: np.ndarray, values: np.ndarray) -> None:
        """Rolls up the readings (series[series_index[i]], ts_ms[i], values[i]), whose values
        are all float64, int64 or bool (floats finite, as ingest accepts them), and of one
        series at distinct times. They must not be of a series already added."""
        buckets = _readings(len(self.series), series_index, ts_ms, values)
        if not len(buckets.start):
            return
        for resolution in RESOLUTIONS:
            buckets = _coarser(buckets, resolution * 1000)
            self.buckets.append((resolution, buckets))

    def as_rollups(self) -> Rollups:
        """The buckets as `rollups_of` gives them: Python values, a key and an `Aggregate`
        each. Sums may differ from `rollups_of`'s in their last bits (they add in another
        order); the rest is equal, down to the Python types."""
        rollups: Rollups = {}
        for resolution, buckets in self.buckets:
            rollups.update(_as_rollups(self.series, resolution, buckets))
        return rollups


def rollups_of_arrays(
    series: Sequence[SeriesKey], series_index: np.ndarray, ts_ms: np.ndarray, values: np.ndarray
) -> Rollups:
    """`rollups_of` of the readings (series[series_index[i]], ts_ms[i], values[i])."""
    rolled = ArrayRollups(list(series))
    rolled.add(series_index, ts_ms, values)
    return rolled.as_rollups()


def _readings(count: int, series_index: np.ndarray, ts_ms: np.ndarray, values: np.ndarray) -> Buckets:
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
    return Buckets(
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


def _coarser(buckets: Buckets, width_ms: int) -> Buckets:
    """The buckets of `width_ms` that the (finer) buckets fall in, aggregated."""
    start = buckets.start - buckets.start % width_ms
    heads = np.flatnonzero(
        np.concatenate(([True], (buckets.series[1:] != buckets.series[:-1]) | (start[1:] != start[:-1])))
    )
    tails = np.append(heads[1:], len(start)) - 1
    numeric = buckets.sum is not None
    return Buckets(
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
    series: Sequence[SeriesKey], resolution: int, buckets: Buckets
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
