"""A channel's readings downsampled into buckets, in plain Python: what a series answers
when no rollup resolution fits its buckets and range."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.kit.batches import EPOCH, Scalar

MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True)
class _Held:
    count: int
    total: Any
    min: Any
    max: Any
    first: Scalar
    last: Scalar

    def add(self, value: Any, numeric: bool) -> None:
        self.count += 1
        self.last = value
        if numeric:
            self.total += value
            self.min = min(self.min, value)
            self.max = max(self.max, value)

    def aggregate(self, name: str) -> Any:
        if name == "avg":
            return self.total / self.count
        return getattr(self, name)


def origin(start: datetime, bucket_seconds: int) -> int:
    """The start of the bucket holding `start`, in seconds since the epoch."""
    return math.floor(start.timestamp()) // bucket_seconds * bucket_seconds


def downsampled(
    readings: Iterable[tuple[datetime, Scalar]],
    start: datetime,
    bucket_seconds: int,
    numeric: bool,
    aggregates: Sequence[str],
) -> list[tuple[Any, ...]]:
    """(bucket start, *aggregates) of each bucket, aligned to the epoch, holding one of the
    readings (given in time order): count, first, last, and for numbers min, max and avg
    (their sum, added up in time order, over their count)."""
    width = bucket_seconds * 1_000_000
    first_bucket = origin(start, bucket_seconds) * 1_000_000
    buckets: dict[int, _Held] = {}
    for ts, value in readings:
        micros = (ts - EPOCH) // MICROSECOND
        key = first_bucket + (micros - first_bucket) // width * width
        held = buckets.get(key)
        if held is None:
            buckets[key] = _Held(1, value, value, value, value, value)
        else:
            held.add(value, numeric)
    return [
        (EPOCH + key * MICROSECOND, *(held.aggregate(name) for name in aggregates))
        for key, held in sorted(buckets.items())
    ]
