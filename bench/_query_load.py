"""The query benchmark's readings loaded straight into telemetry's tables, fast enough for
hundreds of millions: a device's samples made as numpy arrays, packed in bulk by
packing.py's rules (every value of the benchmark, a whole number and a half, packs as
one decimal: checked against `pack` on the first rows), copied by binary COPY, and their
rollups aggregated with numpy per minute, hour and day."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection

from services.kit.batches import utc_of
from services.kit.db import driver_connection
from services.telemetry.packing import ChannelSet, pack
from services.telemetry.queries import bulk
from services.telemetry.queries import rollups as rollup_statements
from services.telemetry.rollups import RESOLUTIONS, Aggregate, Rollups

CHECKED_ROWS = 100


def device_values(samples: int, channels: int) -> np.ndarray:
    """The benchmark's values: sample i of channel n is (7 i + n) mod 997 + 0.5."""
    index = np.arange(samples, dtype=np.int64)[:, None]
    return ((index * 7 + np.arange(channels)) % 997).astype(np.float64) + 0.5


def load_device(
    connection: Connection,
    device: tuple[str, int],
    tier: int,
    channel_set: tuple[ChannelSet, int],
    ts_ms: np.ndarray,
    values: np.ndarray,
) -> None:
    """Copies the device's rows and adds their rollups; `values` holds a column per channel
    of the set, in its order."""
    (device_id, number), (channels, set_id) = device, channel_set
    packed = _packed_halves(values)
    for row in range(min(CHECKED_ROWS, len(packed))):
        expected = pack(channels, {c: v for (c, _), v in zip(channels, values[row].tolist(), strict=True)})
        assert packed[row] == expected, "the bulk packing differs from packing.py's"
    rows = ((number, tier, utc_of(ts), set_id, vals) for ts, vals in zip(ts_ms.tolist(), packed, strict=True))
    bulk.copy(driver_connection(connection), rows)
    rollup_statements.add(connection, _rollups(device_id, tier, channels, ts_ms, values))


def _packed_halves(values: np.ndarray) -> list[bytes]:
    """Each row of values (each a whole number and a half) packed: the varint of
    zigzag(10 v) << 3 | 1 (one decimal) per value."""
    numbers = ((np.round(values * 10).astype(np.uint64) * 2) << np.uint64(3)) | np.uint64(1)
    lengths = np.maximum(1, (np.floor(np.log2(numbers.astype(np.float64))) // 7 + 1)).astype(np.int64)
    flat, flat_lengths = numbers.ravel(), lengths.ravel()
    offsets = np.cumsum(flat_lengths) - flat_lengths
    out = np.zeros(int(flat_lengths.sum()), np.uint8)
    for k in range(int(flat_lengths.max())):
        holds = flat_lengths > k
        more = (flat_lengths[holds] > k + 1).astype(np.uint64) << np.uint64(7)
        out[offsets[holds] + k] = ((flat[holds] >> np.uint64(7 * k)) & np.uint64(0x7F)) | more
    ends = np.cumsum(lengths.sum(axis=1)).tolist()
    data = out.tobytes()
    return [data[start:end] for start, end in zip([0, *ends], ends, strict=False)]


def _rollups(
    device_id: str, tier: int, channels: ChannelSet, ts_ms: np.ndarray, values: np.ndarray
) -> Rollups:
    rolled: Rollups = {}
    for resolution in RESOLUTIONS:
        buckets = ts_ms - ts_ms % (resolution * 1000)
        starts = np.concatenate(([0], np.flatnonzero(np.diff(buckets)) + 1))
        ends = np.concatenate((starts[1:], [len(ts_ms)])) - 1
        counts = (ends - starts + 1).tolist()
        figures: list[Any] = [buckets[starts].tolist(), ts_ms[starts].tolist(), ts_ms[ends].tolist()]
        for position, (channel, _) in enumerate(channels):
            column = values[:, position]
            sums, squares = np.add.reduceat(column, starts), np.add.reduceat(column * column, starts)
            lows, highs = np.minimum.reduceat(column, starts), np.maximum.reduceat(column, starts)
            for bucket, first_ts, last_ts, count, total, sumsq, low, high, first, last in zip(
                *figures, counts, sums.tolist(), squares.tolist(), lows.tolist(), highs.tolist(),
                column[starts].tolist(), column[ends].tolist(), strict=True,
            ):  # fmt: skip
                aggregate = Aggregate(count, total, sumsq, low, high, first_ts, first, last_ts, last)
                rolled[((device_id, channel, tier), resolution, bucket)] = aggregate
    return rolled
