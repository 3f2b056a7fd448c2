"""The values of one sample packed into a few bytes, against its channel set.

A stored row of readings holds every value a device sent at one instant. Which channels
those are, and of which type, is the row's channel set: the (channel, kind) pairs in code
point order of the channel, interned once in `channel_sets`. The values follow in the
set's order, each in as few bytes as keep it exactly:

- int: a zigzag varint (the protobuf encoding);
- bool: one byte;
- str: its UTF-8 length as a varint, then its bytes;
- float: a varint of zigzag(n) * 8 + d when the float is exactly n / 10**d for some d
  in 0..6 (a sensor's reading of a few decimals: 55.23 is 5523 / 10**2, three bytes),
  else the varint 7 and the IEEE 754 double (nine bytes). Decoding computes n / 10**d,
  which is the very same double: the encoder checks that before choosing it.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import orjson

from services.kit.batches import Scalar

# A value's kind in a channel set, by its Python type.
KINDS: dict[type, str] = {float: "f", int: "i", bool: "b", str: "s"}
# (channel, kind) pairs in code point order of the channel.
ChannelSet = tuple[tuple[str, str], ...]

_RAW_DOUBLE = 7
_MAX_DECIMALS = 6
_POWERS = [10**d for d in range(_MAX_DECIMALS + 1)]
# Beyond this a decimal's integer part loses exactness in a double.
_MAX_EXACT = 2**53
_DOUBLE = struct.Struct("<d")
_POWERS_ARRAY = np.array(_POWERS, np.float64)


def channel_set_of(values: Mapping[str, Scalar]) -> ChannelSet:
    return tuple(sorted((channel, KINDS[value.__class__]) for channel, value in values.items()))


def digest(channel_set: ChannelSet) -> str:
    """The SHA-256 of the set, hex: its identity in `channel_sets`."""
    return hashlib.sha256(orjson.dumps(channel_set)).hexdigest()


def pack(channel_set: ChannelSet, values: Mapping[str, Scalar]) -> bytes:
    """The values of `channel_set`'s channels, all present in `values`, packed."""
    out = bytearray()
    for channel, kind in channel_set:
        value = values[channel]
        if kind == "f":
            _put_float(out, value)  # type: ignore[arg-type]
        elif kind == "i":
            _put_varint(out, _zigzag(value))  # type: ignore[arg-type]
        elif kind == "b":
            out.append(1 if value else 0)
        else:
            encoded = value.encode()  # type: ignore[union-attr]
            _put_varint(out, len(encoded))
            out += encoded
    return bytes(out)


def unpack(channel_set: ChannelSet, data: bytes) -> list[tuple[str, Scalar]]:
    """The (channel, value) pairs packed in `data`, in the set's order."""
    pairs: list[tuple[str, Scalar]] = []
    at = 0
    for channel, kind in channel_set:
        if kind == "b":
            pairs.append((channel, data[at] == 1))
            at += 1
            continue
        number, at = _varint(data, at)
        if kind == "i":
            pairs.append((channel, _unzigzag(number)))
        elif kind == "s":
            pairs.append((channel, data[at : at + number].decode()))
            at += number
        elif number == _RAW_DOUBLE:
            pairs.append((channel, _DOUBLE.unpack_from(data, at)[0]))
            at += 8
        else:
            pairs.append((channel, _unzigzag(number >> 3) / _POWERS[number & 7]))
    return pairs


def merged(
    stored: Sequence[tuple[str, Scalar]], incoming: Iterable[tuple[str, Scalar]]
) -> dict[str, Scalar] | None:
    """The values of a row that holds `stored` once `incoming` is added, where a channel
    stored keeps its value (the first write wins); None when nothing is new."""
    values = dict(stored)
    added = False
    for channel, value in incoming:
        if channel not in values:
            values[channel] = value
            added = True
    return values if added else None


def _put_float(out: bytearray, value: float) -> None:
    # Beyond 2**53 (and for inf and nan) no decimal holds a double exactly; -0.0 has none.
    if abs(value) < _MAX_EXACT and not (value == 0 and math.copysign(1.0, value) < 0):
        for decimals, power in enumerate(_POWERS):
            scaled = round(value * power)
            if abs(scaled) < _MAX_EXACT and scaled / power == value:
                _put_varint(out, _zigzag(scaled) << 3 | decimals)
                return
    out.append(_RAW_DOUBLE)
    out += _DOUBLE.pack(value)


def _zigzag(number: int) -> int:
    return number << 1 if number >= 0 else (-number << 1) - 1


def _unzigzag(number: int) -> int:
    return number >> 1 if not number & 1 else -((number + 1) >> 1)


def _put_varint(out: bytearray, number: int) -> None:
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """The varint at `at` and the offset after it."""
    number = shift = 0
    while True:
        byte = data[at]
        at += 1
        number |= (byte & 0x7F) << shift
        if byte < 0x80:
            return number, at
        shift += 7


def unpack_columns(
    channel_set: ChannelSet, rows: Sequence[bytes], positions: Sequence[int]
) -> list[list[Scalar]]:
    """The values of many rows of one channel set, a column for each position of the set
    asked for: with numpy in one pass when every value is a single varint (no text, no raw
    double), as realistic rows are; row by row otherwise."""
    columns = _varint_columns(channel_set, rows, positions) if rows else None
    if columns is None:
        unpacked = [unpack(channel_set, row) for row in rows]
        return [[row[index][1] for row in unpacked] for index in positions]
    return columns


def _varint_columns(
    channel_set: ChannelSet, rows: Sequence[bytes], positions: Sequence[int]
) -> list[list[Scalar]] | None:
    width = len(channel_set)
    if any(kind == "s" for _, kind in channel_set):
        return None
    data = np.frombuffer(b"".join(rows), np.uint8)
    last_bytes = data < 0x80
    if int(last_bytes.sum()) != width * len(rows):
        return None
    starts = np.flatnonzero(np.concatenate(([True], last_bytes[:-1])))
    # Each byte's place in its varint, from the start of the varint it belongs to.
    owner = np.cumsum(last_bytes) - last_bytes
    shifts = (7 * (np.arange(data.size) - starts[owner])).astype(np.uint64)
    numbers = np.add.reduceat((data & 0x7F).astype(np.uint64) << shifts, starts)
    if not _rows_whole(rows, last_bytes, width):
        return None
    table = numbers.reshape(len(rows), width)
    columns: list[list[Scalar]] = []
    for index in positions:
        kind, column = channel_set[index][1], table[:, index]
        if kind == "b":
            columns.append((column == 1).tolist())
        elif kind == "i":
            columns.append(_unzigzag_array(column).tolist())
        elif (column == _RAW_DOUBLE).any():
            return None
        else:
            scaled = _unzigzag_array(column >> np.uint64(3)).astype(np.float64)
            columns.append((scaled / _POWERS_ARRAY[(column & np.uint64(7)).astype(np.intp)]).tolist())
    return columns


def _rows_whole(rows: Sequence[bytes], last_bytes: np.ndarray, width: int) -> bool:
    """Whether each row holds exactly `width` varints (a raw double's bytes may not)."""
    ends = np.cumsum(np.fromiter(map(len, rows), np.int64, len(rows)))
    counted = np.cumsum(last_bytes)[ends - 1]
    return bool((counted == width * np.arange(1, len(rows) + 1)).all())


def _unzigzag_array(numbers: np.ndarray) -> np.ndarray:
    return (numbers >> np.uint64(1)).astype(np.int64) ^ -(numbers & np.uint64(1)).astype(np.int64)
