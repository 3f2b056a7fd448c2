"""Readings in columns: per device its timestamps, then per channel its values in one
array. A column is checked a whole array at a time with numpy for what nearly every
value is (a finite float, an int, a bool); the values that earn a verdict of their
own, and columns numpy cannot type (strings, JSON arrays of mixed kinds), are checked
one by one by the very rules of readings in rows, so a reading gets the same verdict
whichever way it was sent."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.telemetry.rules import ChannelRule, Refusal

# A column's values: a typed array (from protobuf), or Python values (from JSON).
Values = np.ndarray | list[Any]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# The numpy kinds of arrays each value type is checked on at once: ints are floats' too.
_ARRAY_KINDS = {"float": "fi", "int": "i", "bool": "b"}
# The Python kinds of JSON values each value type reads into one array.
_LIST_KINDS = {"float": ({float}, {int}, {float, int}), "int": ({int},), "bool": ({bool},)}
_DTYPES = {"float": np.float64, "int": np.int64, "bool": np.bool_}


@dataclass(frozen=True, slots=True)
class Column:
    """One channel's values of a device. `present` marks the samples that have a value
    (every sample when None) and `values` are theirs, in order."""

    channel: str
    values: Values
    present: np.ndarray | None = None

    def sample_indexes(self, samples: int) -> np.ndarray | None:
        """The sample of each value; None when the values do not fit `samples`."""
        if self.present is None:
            return np.arange(samples) if len(self.values) == samples else None
        if len(self.present) != samples:
            return None
        indexes = np.flatnonzero(self.present)
        return indexes if len(indexes) == len(self.values) else None


@dataclass(frozen=True, slots=True)
class DeviceColumns:
    device_id: str
    ts_ms: np.ndarray
    columns: Sequence[Column]

    def reading_count(self) -> int:
        return sum(len(column.values) for column in self.columns)


@dataclass(frozen=True, slots=True)
class CheckedColumn:
    """A column's verdicts, by position of its values: `accepted` marks those kept, as
    `stored` holds them (an array of the channel's type, or Python values where numpy
    cannot type them; meaningful where accepted); `refusals` says why the others were
    refused; `flagged` marks the accepted ones outside the channel's range."""

    accepted: np.ndarray
    stored: np.ndarray | list[Any]
    refusals: dict[int, Refusal]
    flagged: np.ndarray


def check_column(rule: ChannelRule, values: Values, considered: np.ndarray) -> CheckedColumn:
    """The verdicts on the `considered` values of a column of `rule`'s channel; the
    others get none (their samples are refused whole)."""
    array = _array_for(rule.value_type, values)
    if array is None:
        return _one_by_one(rule, values, considered)
    accepted = considered & np.isfinite(array) if array.dtype.kind == "f" else considered.copy()
    refused = np.flatnonzero(considered & ~accepted).tolist()
    # The rules of rows word each refusal, so that both shapes say the same.
    refusals = {position: _refusal(rule.check(array[position].item())) for position in refused}
    return CheckedColumn(accepted, array, refusals, accepted & _outside(rule, array))


def _array_for(value_type: str, values: Values) -> np.ndarray | None:
    """The values as one array of the channel's type, when they all are of that type."""
    dtype = _DTYPES.get(value_type)
    if dtype is None:
        return None
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False) if values.dtype.kind in _ARRAY_KINDS[value_type] else None
    kinds = set(map(type, values))
    if kinds and kinds not in _LIST_KINDS[value_type]:
        return None
    try:
        return np.array(values, dtype=dtype)
    except OverflowError:  # a JSON integer beyond int64, refused one by one
        return None


def typed(value_type: str, values: np.ndarray | list[Any]) -> np.ndarray | list[Any]:
    """Accepted values as an array of their channel's type; text stays a list."""
    dtype = _DTYPES.get(value_type)
    return values if dtype is None or isinstance(values, np.ndarray) else np.array(values, dtype=dtype)


def _one_by_one(rule: ChannelRule, values: Values, considered: np.ndarray) -> CheckedColumn:
    stored = values.tolist() if isinstance(values, np.ndarray) else list(values)
    accepted = np.zeros(len(stored), dtype=bool)
    flagged = np.zeros(len(stored), dtype=bool)
    refusals = {}
    for position in np.flatnonzero(considered).tolist():
        checked = rule.check(stored[position])
        if type(checked) is Refusal:
            refusals[position] = checked
        else:
            stored[position] = checked
            accepted[position] = True
            flagged[position] = rule.out_of_range(checked)
    return CheckedColumn(accepted, stored, refusals, flagged)


def _refusal(checked: Any) -> Refusal:
    if type(checked) is not Refusal:
        raise AssertionError(f"a value numpy refused is accepted by its rule: {checked!r}")
    return checked


def _outside(rule: ChannelRule, array: np.ndarray) -> np.ndarray:
    outside = np.zeros(len(array), dtype=bool)
    if rule.minimum is not None:
        outside |= _below(array, rule.minimum)
    if rule.maximum is not None:
        outside |= _above(array, rule.maximum)
    return outside


def _below(array: np.ndarray, bound: float) -> np.ndarray:
    if array.dtype.kind != "i":
        return array < bound
    # An int is below a bound when below its ceiling, compared exactly: numpy would
    # compare both as doubles, which round ints beyond 2^53.
    lowest = math.ceil(bound) if math.isfinite(bound) else bound
    if lowest > _INT64_MAX or lowest <= _INT64_MIN:
        return np.full(len(array), lowest > _INT64_MAX)
    return array < lowest


def _above(array: np.ndarray, bound: float) -> np.ndarray:
    if array.dtype.kind != "i":
        return array > bound
    highest = math.floor(bound) if math.isfinite(bound) else bound
    if highest < _INT64_MIN or highest >= _INT64_MAX:
        return np.full(len(array), highest < _INT64_MIN)
    return array > highest
