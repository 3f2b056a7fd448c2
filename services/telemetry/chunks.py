"""A device's closed day of readings in one compressed chunk.

The day's rows (time, channel set, packed values: see packing.py) are laid out column by
column, each column in the form that leaves zstd the least to keep:

- times in microseconds as delta-of-delta (a steady sample rate gives zeros);
- channel set ids, as they are (a device sends one set, day long);
- the values' bytes, split at the ends of their varints into one stream per position in
  the row when every row holds as many varints (so that a channel's varints sit together:
  a counter's repeat, a sensor's bytes look alike); otherwise each row's length, then
  the rows' bytes.

Decoding gives back exactly the rows that went in.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import zstandard

LEVEL = 9
# Rows, and the varints in every row (0: rows of their own lengths).
_HEADER = struct.Struct("<II")


class ChunkRows(NamedTuple):
    """Rows of a chunk: times in µs since the epoch, channel set ids and packed values."""

    ts_us: np.ndarray
    set_ids: np.ndarray
    vals: list[bytes]


def chunk_rows(ts_us: Sequence[int], set_ids: Sequence[int], vals: Sequence[bytes]) -> ChunkRows:
    return ChunkRows(np.asarray(ts_us, np.int64), np.asarray(set_ids, np.int32), list(vals))


def compress(rows: ChunkRows) -> bytes:
    count = len(rows.vals)
    deltas = np.diff(rows.ts_us.astype(np.int64), prepend=0)
    stamps_dod = np.diff(deltas, prepend=0)
    data = np.frombuffer(b"".join(rows.vals), np.uint8)
    lengths = np.fromiter(map(len, rows.vals), np.int64, count)
    width = _varints_per_row(data, lengths)
    parts = [_HEADER.pack(count, width), stamps_dod.tobytes(), rows.set_ids.astype(np.int32).tobytes()]
    if width:
        piece = _piece_of_each_byte(data)
        parts.append(data[np.argsort(piece % width, kind="stable")].tobytes())
    else:
        parts += [lengths.astype(np.uint32).tobytes(), data.tobytes()]
    return zstandard.ZstdCompressor(level=LEVEL).compress(b"".join(parts))


def decompress(data: bytes) -> ChunkRows:
    raw = zstandard.ZstdDecompressor().decompress(data)
    count, width = _HEADER.unpack_from(raw)
    at = _HEADER.size
    stamps = np.cumsum(np.cumsum(np.frombuffer(raw, np.int64, count, at)))
    at += 8 * count
    set_ids = np.frombuffer(raw, np.int32, count, at)
    at += 4 * count
    if width:
        streams = np.frombuffer(raw, np.uint8, offset=at)
        piece = _piece_of_each_byte(streams)
        # Piece p * count + r of the streams is piece r * width + p of the rows.
        row = piece % count
        data = streams[np.argsort(row * width + piece // count, kind="stable")]
        lengths = np.bincount(row, minlength=count)
    else:
        lengths = np.frombuffer(raw, np.uint32, count, at).astype(np.int64)
        data = np.frombuffer(raw, np.uint8, offset=at + 4 * count)
    ends = np.cumsum(lengths).tolist()
    flat = data.tobytes()
    vals = [flat[start:end] for start, end in zip([0, *ends], ends, strict=False)]
    return ChunkRows(stamps, set_ids, vals)


def _varints_per_row(data: np.ndarray, lengths: np.ndarray) -> int:
    """How many varints each row holds, when all hold as many and end with one; else 0."""
    if not len(lengths) or not lengths.all():
        return 0
    ends = np.cumsum(lengths)
    last = data < 0x80
    if not last[ends - 1].all():
        return 0
    counts = np.diff(np.cumsum(last)[ends - 1], prepend=0)
    return int(counts[0]) if (counts == counts[0]).all() else 0


def _piece_of_each_byte(data: np.ndarray) -> np.ndarray:
    """The index of the varint each byte belongs to."""
    last = data < 0x80
    return np.cumsum(last) - last
