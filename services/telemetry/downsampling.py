"""A channel's readings downsampled into buckets with numpy: what a series answers when no
rollup resolution fits its buckets and range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from services.kit.batches import EPOCH, Scalar

MICROSECOND = timedelta(microseconds=1)


def origin(start: datetime, bucket_seconds: int) -> int:
    """The start of the bucket holding `start`, in seconds since the epoch."""
    return math.floor(start.timestamp()) // bucket_seconds * bucket_seconds


def downsampled(
    stamps: Sequence[datetime],
    values: Sequence[Scalar],
    start: datetime,
    bucket_seconds: int,
    numeric: bool,
    aggregates: Sequence[str],
) -> list[tuple[Any, ...]]:
    """(bucket start, *aggregates) of each bucket, aligned to the epoch, holding one of the
    readings (given in time order): count, first, last, and for numbers min, max and avg
    (their sum over their count)."""
    if not stamps:
        return []
    width = bucket_seconds * 1_000_000
    first_bucket = origin(start, bucket_seconds) * 1_000_000
    micros = np.fromiter(((ts - EPOCH) // MICROSECOND for ts in stamps), np.int64, len(stamps))
    buckets = first_bucket + (micros - first_bucket) // width * width
    starts = np.flatnonzero(np.concatenate(([True], buckets[1:] != buckets[:-1])))
    ends = np.concatenate((starts[1:], [len(stamps)])) - 1
    columns: dict[str, list[Any]] = {
        "count": (ends - starts + 1).tolist(),
        "first": [values[i] for i in starts.tolist()],
        "last": [values[i] for i in ends.tolist()],
    }
    if numeric:
        numbers = np.asarray(values, np.float64)
        columns |= {
            "min": np.minimum.reduceat(numbers, starts).tolist(),
            "max": np.maximum.reduceat(numbers, starts).tolist(),
            "avg": (np.add.reduceat(numbers, starts) / (ends - starts + 1)).tolist(),
        }
    bucket_starts = [EPOCH + timedelta(microseconds=b) for b in buckets[starts].tolist()]
    return list(zip(bucket_starts, *(columns[name] for name in aggregates), strict=True))
