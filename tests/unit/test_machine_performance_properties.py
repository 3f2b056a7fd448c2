"""Random reading histories and ranges: the tracker gives what a replay of the whole
history gives however its readings are split and stored between them, its segments
tile the time read, and figures do not depend on how time is cut into buckets."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.analytics.domain.calendar import Shift, ShiftCalendar
from services.analytics.domain.counters import Counter
from services.analytics.domain.machine_log import RecordedMachine
from services.analytics.domain.performance import Inputs, bucket_inputs
from services.analytics.domain.timeline import (
    Category,
    MachineConfig,
    MachineTracker,
    Timeline,
    ValueStates,
)
from services.kit.batches import Scalar

EXAMPLES = settings(max_examples=200, deadline=None)
START = datetime(2026, 10, 24, 18, tzinfo=UTC)  # the evening before Berlin's clocks go back
START_MS = int(START.timestamp()) * 1000
STATES = ValueStates(
    "state",
    (("RUN", Category.PRODUCING), ("SETUP", Category.SETUP), ("BREAK", Category.PLANNED_DOWNTIME)),
    default=Category.IDLE,
)
FAULTS = ValueStates("state", (*STATES.values, ("FAULT", Category.FAULT)), default=Category.IDLE)
MACHINE = MachineConfig(FAULTS, produced=Counter("parts", 1000), scrap=Counter("scrap"), max_gap_ms=600_000)
CALENDAR = ShiftCalendar(
    "Europe/Berlin",
    {day: [Shift("early", time(6), time(14)), Shift("night", time(22), time(6))] for day in range(7)},
)

values = st.fixed_dictionaries(
    {},
    optional={
        "state": st.sampled_from(["RUN", "SETUP", "BREAK", "FAULT", "OFF"]),
        "parts": st.sampled_from([0, 3, 10, 250, 999, 1000, -1, float("nan"), 7.5]),
        "scrap": st.integers(0, 20),
    },
)
# Steps of 0 (two readings at one instant) to past max_gap_ms.
steps = st.sampled_from([0, 1_000, 60_000, 300_000, 900_000, 3_600_000])
histories = st.lists(st.tuples(steps, values), max_size=40).map(
    lambda drawn: [(START_MS + sum(step for step, _ in drawn[: i + 1]), v) for i, (_, v) in enumerate(drawn)]
)


def replay(history: list[tuple[int, dict[str, Scalar]]]) -> Timeline:
    tracker, timeline = MachineTracker(MACHINE), Timeline()
    for ts_ms, reading in history:
        tracker.feed(ts_ms, reading, into=timeline)
    return timeline


@EXAMPLES
@given(histories, st.lists(st.integers(0, 40), max_size=5))
def test_feeding_in_chunks_through_bytes_is_a_replay(
    history: list[tuple[int, dict[str, Scalar]]], cuts: list[int]
) -> None:
    timeline = Timeline()
    stored = RecordedMachine(MachineTracker(MACHINE)).to_bytes()
    for lo, hi in _chunks(len(history), cuts):
        machine = RecordedMachine.from_bytes(MACHINE, stored)
        for ts_ms, reading in history[lo:hi]:
            machine.feed(ts_ms, reading, {}, timeline)
        stored = machine.to_bytes()

    assert timeline == replay(history)


@EXAMPLES
@given(histories)
def test_segments_tile_the_time_read(
    history: list[tuple[int, dict[str, Scalar]]],
) -> None:
    timeline = replay(history)
    tracker = MachineTracker(MACHINE)
    for ts_ms, reading in history:
        tracker.feed(ts_ms, reading)
    segments = timeline.segments + tracker.open_segments(history[-1][0]) if history else []

    assert all(s.start_ms < s.end_ms for s in segments)
    for a, b in pairwise(segments):
        assert a.end_ms == b.start_ms
        assert a.category != b.category or _held_for_no_time(history, a.end_ms)
    if segments:
        assert (segments[0].start_ms, segments[-1].end_ms) == (history[0][0], history[-1][0])
    restored = [r.start_ms for r in timeline.restorations]
    assert restored == timeline.failures[: len(restored)]
    assert len(timeline.failures) - len(restored) in (0, 1)


@EXAMPLES
@given(histories, st.lists(st.integers(1, 96), min_size=1, max_size=6))
def test_buckets_add_up_to_the_period_they_cut(
    history: list[tuple[int, dict[str, Scalar]]], quarters: list[int]
) -> None:
    # The finer buckets cut the 24 h period at random quarter hours.
    end = START + timedelta(hours=24)
    cuts = sorted({START + timedelta(minutes=15 * q) for q in quarters} - {end})
    timeline = replay(history)
    plan = CALENDAR.planned(START, end)

    (whole,) = bucket_inputs([START, end], plan, timeline, pru_seconds=20)
    parts = bucket_inputs([START, *cuts, end], plan, timeline, pru_seconds=20)

    total = sum(parts, Inputs())
    for name in Inputs.__dataclass_fields__:
        assert getattr(total, name) == pytest.approx(getattr(whole, name)), name
    # From 20:00 CEST on Saturday to 19:00 CET on Sunday: Saturday's night shift, 22:00 CEST
    # to 06:00 CET (9 h), and Sunday's early shift, 06:00-14:00 CET (8 h).
    assert whole.pbt + whole.pdot == 17 * 3600


@EXAMPLES
@given(st.integers(0, 365 * 24 * 4), st.integers(0, 14 * 24 * 4), st.integers(0, 14 * 24 * 4))
def test_planned_time_over_a_range_is_that_of_its_two_halves(first: int, middle: int, last: int) -> None:
    a = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * first)
    b = a + timedelta(minutes=15 * middle)
    c = b + timedelta(minutes=15 * last)

    def planned(start: datetime, end: datetime) -> timedelta:
        shifts = CALENDAR.planned(start, end)
        assert all(x.end <= y.start for x, y in pairwise(shifts))
        assert all(start <= s.start < s.end <= end for s in shifts)
        return sum((s.end - s.start for s in shifts), timedelta())

    assert planned(a, c) == planned(a, b) + planned(b, c)


def _held_for_no_time(history: list[tuple[int, dict[str, Scalar]]], ts_ms: int) -> bool:
    """Whether the state read at `ts_ms` lasted no time: another reading came at the same
    instant, or silence followed. Only then may one category run on in two segments."""
    instants = [ts for ts, _ in history]
    later = [ts for ts in instants if ts > ts_ms]
    return instants.count(ts_ms) > 1 or (bool(later) and later[0] - ts_ms > MACHINE.max_gap_ms)


def _chunks(size: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = sorted({0, size, *(min(cut, size) for cut in cuts)})
    return list(pairwise(edges))
