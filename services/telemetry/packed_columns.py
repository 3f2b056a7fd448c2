"""Rows of readings packed a whole batch at a time: the values of many samples, given in
columns, packed with numpy into the very bytes `packing.pack` gives each sample.

The writer must pack a million readings a second, which `pack`'s per-value Python cannot
reach. Every value `pack` writes but text is a varint (a bool is the varint 0 or 1), and a
float that is no short decimal is the varint 7 followed by its eight bytes. So each value
becomes a number in a table of a row per sample and a column per channel, the numbers'
varints are written into a matrix of a row per value, as wide as the longest value, and
the bytes each value really takes are read out in row-major order: the rows' bytes,
concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.telemetry.packing import _MAX_DECIMALS, _MAX_EXACT, _RAW_DOUBLE, ChannelSet

_DTYPES = {"f": np.dtype(np.float64), "i": np.dtype(np.int64), "b": np.dtype(np.bool_)}
_RAW_BYTES = 1 + 8
# Below this share of values left undecided, the search for decimals goes on with only them.
_NARROWING_SHARE = 4


def pack_columns(channel_set: ChannelSet, columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The rows formed by position i of each column (in the set's order, of dtype float64,
    int64 or bool by the channel's kind), each packed as `pack` packs it: the rows' bytes
    one after the other (uint8) and each row's length (int64)."""
    rows = _row_count(channel_set, columns)
    numbers = [_numbers(kind, column) for (_, kind), column in zip(channel_set, columns, strict=True)]
    raw_rows = _raw_double_rows(channel_set, numbers)
    matrix = _varint_matrix(rows, numbers, _RAW_BYTES if raw_rows else 1)
    # None of a varint's bytes is a zero but the first (a continued byte has its high bit,
    # the last is the highest septet), and its row holds zeros after it.
    taken = matrix != 0
    taken[:, :, 0] = True
    for index, samples in raw_rows.items():
        doubles = columns[index][samples].astype("<f8").view(np.uint8).reshape(-1, 8)
        matrix[samples, index, 1:_RAW_BYTES] = doubles
        taken[samples, index, :_RAW_BYTES] = True
    return matrix[taken], taken.sum(axis=(1, 2), dtype=np.int64)


def _row_count(channel_set: ChannelSet, columns: Sequence[np.ndarray]) -> int:
    """The columns' common length, once they are known to fit the set."""
    if len(columns) != len(channel_set):
        raise ValueError(f"{len(columns)} columns for a set of {len(channel_set)} channels")
    for (channel, kind), column in zip(channel_set, columns, strict=True):
        if kind not in _DTYPES:
            raise ValueError(f"channel {channel!r} of kind {kind!r} cannot be packed in columns")
        if column.dtype != _DTYPES[kind] or column.ndim != 1:
            raise ValueError(f"channel {channel!r} of kind {kind!r} given as {column.dtype} {column.shape}")
    if len({len(column) for column in columns}) > 1:
        raise ValueError("columns of different lengths")
    return len(columns[0]) if columns else 0


def _float_numbers(values: np.ndarray) -> np.ndarray:
    """zigzag(n) * 8 + d for each value that is exactly n / 10**d, the smallest such d in
    0..6, as `_put_float` chooses it; the raw double's marker 7 for the others."""
    # Beyond 2**53 (and for inf and nan) no decimal holds a double exactly; -0.0 has none.
    candidates = (np.abs(values) < _MAX_EXACT) & ~((values == 0) & np.signbit(values))
    with np.errstate(over="ignore", invalid="ignore"):
        scaled, decimals = _smallest_decimals(values, candidates, 0)
    integers = scaled.astype(np.int64)
    # A raw double's scaled value is 0, whose zigzag shifted leaves the marker alone.
    return (_zigzag(integers) << np.uint64(3)) | decimals.astype(np.uint64)


def _smallest_decimals(
    values: np.ndarray, undecided: np.ndarray, first: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each undecided value, the smallest d from `first` to 6 such that v * 10**d
    rounded (n) gives back v divided by 10**d, and n (0 and the marker 7 where none)."""
    scaled = np.zeros(len(values))
    # Counts the tries each value stays undecided after: the d it is found at, else 7.
    decimals = np.where(undecided, np.uint8(first), np.uint8(_RAW_DOUBLE))
    largest = float(np.abs(values, where=undecided, out=np.zeros(len(values))).max(initial=0.0))
    for place in range(first, _MAX_DECIMALS + 1):
        power = float(10**place)
        # np.rint rounds half to even, as Python's round does; both scale the same double.
        tried = np.rint(values * power)
        found = undecided & (tried / power == values)
        if largest * power >= _MAX_EXACT / 2:
            found &= np.abs(tried) < _MAX_EXACT
        scaled = np.where(found, tried, scaled)
        undecided &= ~found
        decimals += undecided
        remaining = np.count_nonzero(undecided)
        if remaining * _NARROWING_SHARE < len(values) and place < _MAX_DECIMALS:
            if remaining:
                left = np.flatnonzero(undecided)
                scaled[left], decimals[left] = _smallest_decimals(
                    values[left], np.ones(remaining, bool), place + 1
                )
            break
    return scaled, decimals


def _zigzag(numbers: np.ndarray) -> np.ndarray:
    """The protobuf zigzag of int64s, in uint64 (that of -2**63 is 2**64 - 1)."""
    return ((numbers << 1) ^ (numbers >> 63)).view(np.uint64)


def _numbers(kind: str, column: np.ndarray) -> np.ndarray:
    """The number whose varint a value's bytes start with."""
    if kind == "f":
        return _float_numbers(column)
    if kind == "i":
        return _zigzag(column)
    return column.astype(np.uint64)


def _raw_double_rows(channel_set: ChannelSet, numbers: list[np.ndarray]) -> dict[int, np.ndarray]:
    """The samples whose value is a raw double, by the place of each float column that has some."""
    found = {
        index: np.flatnonzero(column_numbers == _RAW_DOUBLE)
        for index, ((_, kind), column_numbers) in enumerate(zip(channel_set, numbers, strict=True))
        if kind == "f"
    }
    return {index: samples for index, samples in found.items() if samples.size}


def _varint_matrix(rows: int, numbers: list[np.ndarray], least_width: int) -> np.ndarray:
    """Each column's numbers as varints: (sample, column, byte), zeros after a varint."""
    widths = [max(1, -(-int(column.max(initial=0)).bit_length() // 7)) for column in numbers]
    matrix = np.zeros((rows, len(numbers), max([least_width, *widths])), np.uint8)
    for index, (column, width) in enumerate(zip(numbers, widths, strict=True)):
        # Seven bits a byte, least significant first, the high bit set on all but the last.
        for place in range(width):
            rest = column >> np.uint64(7 * place)
            septets = rest.astype(np.uint8) & np.uint8(0x7F)
            matrix[:, index, place] = septets | ((rest > 0x7F).view(np.uint8) << np.uint8(7))
    return matrix
