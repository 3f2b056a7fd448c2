"""Readings rolled up from arrays with numpy give the rollups `rollups_of` gives them one
by one: the same buckets, counts, extremes, first and last values of the same types, and
sums equal up to the rounding of adding in another order."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.batches import Scalar
from services.telemetry.array_rollups import rollups_of_arrays
from services.telemetry.rollups import Aggregate, Reading, SeriesKey, rollups_of

EXAMPLES = settings(max_examples=300, deadline=None)
DAY_MS = 86_400_000
KINDS = {
    # Finite, as ingest accepts them, and small enough that no sum overflows.
    "f": (st.one_of(st.floats(-1e150, 1e150), st.floats(-1e4, 1e4).map(lambda v: round(v, 2))), np.float64),
    "i": (st.integers(-(2**63), 2**63 - 1), np.int64),
    "b": (st.booleans(), np.bool_),
}
SERIES: list[SeriesKey] = [(f"device-{n}", "temp", 30) for n in range(4)]


@st.composite
def readings(draw: st.DrawFn) -> list[Reading]:
    """Readings of one type in a few series, each at distinct times around a start that
    may fall before 1970, spread over minutes, hours or days."""
    values, _ = KINDS[draw(st.sampled_from(sorted(KINDS)))]
    start = draw(st.integers(-(2**44), 2**44))
    spread = draw(st.sampled_from([3 * 60_000, 3 * 3_600_000, 3 * DAY_MS]))
    drawn: list[Reading] = []
    for series in SERIES[: draw(st.integers(1, len(SERIES)))]:
        times = draw(st.lists(st.integers(start, start + spread), unique=True, max_size=40))
        drawn += [(series, ts_ms, draw(values)) for ts_ms in times]
    return drawn


def arrays_of(drawn: list[Reading], dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array([SERIES.index(series) for series, _, _ in drawn], np.int64),
        np.array([ts_ms for _, ts_ms, _ in drawn], np.int64),
        np.array([value for _, _, value in drawn], dtype),
    )


def assert_same_aggregate(got: Aggregate, want: Aggregate, magnitude: Aggregate) -> None:
    """Equal and of one type but for the sums, which may differ by the rounding of adding
    the same numbers in another order: a few ulps of the sum of their magnitudes."""
    exact = ("count", "min", "max", "first_ts", "first", "last_ts", "last")
    assert [getattr(got, name) for name in exact] == [getattr(want, name) for name in exact]
    assert [type(getattr(got, name)) for name in exact] == [type(getattr(want, name)) for name in exact]
    if want.sum is None:
        assert got.sum is None and got.sumsq is None
        return
    assert isinstance(got.sum, float) and isinstance(got.sumsq, float)
    assert math.isclose(got.sum, want.sum, rel_tol=1e-9, abs_tol=1e-9 * magnitude.sum)  # type: ignore[arg-type, operator]
    assert math.isclose(got.sumsq, want.sumsq, rel_tol=1e-9)  # type: ignore[arg-type]


@EXAMPLES
@given(readings(), st.randoms(use_true_random=False), st.booleans())
def test_arrays_roll_up_as_readings_one_by_one(
    drawn: list[Reading], rng: random.Random, shuffled: bool
) -> None:
    # In any order, or in that of series then time, which needs no sorting.
    if shuffled:
        rng.shuffle(drawn)
    else:
        drawn.sort(key=lambda reading: (SERIES.index(reading[0]), reading[1]))
    dtype = KINDS[{float: "f", int: "i", bool: "b"}[type(drawn[0][2])]][1] if drawn else np.float64
    got = rollups_of_arrays(SERIES, *arrays_of(drawn, dtype))
    want = rollups_of(drawn)
    magnitudes = rollups_of([(series, ts_ms, abs(float(value))) for series, ts_ms, value in drawn])
    assert got.keys() == want.keys()
    for key, aggregate in want.items():
        assert_same_aggregate(got[key], aggregate, magnitudes[key])


def test_readings_ages_apart_roll_up_as_readings_one_by_one() -> None:
    # Times too far apart for one key of series and time: sorted by one, then the other.
    drawn: list[Reading] = [
        (SERIES[3], 2**61, 4),
        (SERIES[0], -(2**61), -(2**63)),
        (SERIES[3], -(2**61), 2**63 - 1),
        (SERIES[0], 2**61 + 1, 0),
        (SERIES[0], 2**61, 7),
    ]
    magnitudes = rollups_of([(series, ts_ms, abs(float(value))) for series, ts_ms, value in drawn])
    got, want = rollups_of_arrays(SERIES, *arrays_of(drawn, np.int64)), rollups_of(drawn)
    assert got.keys() == want.keys()
    for key, aggregate in want.items():
        assert_same_aggregate(got[key], aggregate, magnitudes[key])


def test_two_readings_of_a_series_at_one_time_are_refused() -> None:
    drawn: list[tuple[SeriesKey, int, Scalar]] = [
        (SERIES[0], 5, 1.0),
        (SERIES[1], 5, 2.0),
        (SERIES[0], 5, 3.0),
    ]
    with pytest.raises(ValueError, match="one time"):
        rollups_of_arrays(SERIES, *arrays_of(drawn, np.float64))
