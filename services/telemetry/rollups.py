"""Exact rollups: each device's channel summed up per UTC minute, hour and day.

The writer adds to them in the transaction that stores their readings, and only what it
stored for the first time, so they stay exact when a batch is delivered again, a reading
is sent twice, or readings come late and out of order: a rollup always equals the
aggregate of its stored readings. A series whose buckets and range are whole multiples
of a resolution is answered from the rollups of that resolution.

Count, first and last (the earliest and latest reading's value) are kept for every
channel; sum, sum of squares, min and max for numeric ones (float and int; not bool).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

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

    @classmethod
    def of(cls, ts_ms: int, value: Scalar) -> Aggregate:
        numeric = value.__class__ in (float, int)
        number = float(value) if numeric else None  # type: ignore[arg-type]
        square = number * number if number is not None else None
        return cls(1, number, square, number, number, ts_ms, value, ts_ms, value)

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
    minutes: Rollups = {}
    for series, ts_ms, value in readings:
        key = (series, MINUTE, ts_ms - ts_ms % (MINUTE * 1000))
        fresh = Aggregate.of(ts_ms, value)
        held = minutes.get(key)
        if held is None:
            minutes[key] = fresh
        else:
            held.add(fresh)
    coarser: Rollups = {}
    for resolution in (HOUR, DAY):
        width = resolution * 1000
        for (series, _, start), aggregate in minutes.items():
            key = (series, resolution, start - start % width)
            held = coarser.get(key)
            if held is None:
                coarser[key] = replace(aggregate)
            else:
                held.add(aggregate)
    return minutes | coarser


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
