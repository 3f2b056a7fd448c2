"""A machine's log of readings, and late readings put in their places: whatever order
readings arrive in, the periods end up as if they had arrived in time."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.analytics.domain.calendar import PlannedShift
from services.analytics.domain.counters import Counter
from services.analytics.domain.machine_log import (
    RECORD_ENTRIES,
    LogRecord,
    RecordedMachine,
    base_of,
    recompute,
)
from services.analytics.domain.performance import Inputs, bucket_inputs, machine_part
from services.analytics.domain.timeline import (
    Category,
    LateReading,
    MachineConfig,
    MachineTracker,
    Timeline,
    ValueStates,
)
from services.kit.batches import Scalar

STATES = ValueStates(
    "state",
    (("RUN", Category.PRODUCING), ("SETUP", Category.SETUP), ("FAULT", Category.FAULT)),
    default=Category.IDLE,
)
MACHINE = MachineConfig(STATES, produced=Counter("parts", wraps_at=1000), max_gap_ms=3_600_000)
T0 = datetime(2026, 12, 7, 6, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
QUARTERS = [T0 - timedelta(minutes=15) + timedelta(minutes=15 * i) for i in range(4 * 24 * 3)]
# Planned from 08:00 to 16:00, so that readings fall inside and outside the plan.
PLAN = [PlannedShift("day", T0.date(), T0 + timedelta(hours=2), T0 + timedelta(hours=10))]

Reading = tuple[int, Mapping[str, Scalar]]


class Evaluator:
    """A machine fed flush after flush as the evaluator feeds it: in time order, late
    readings put in their places, records written as they close, the periods summed."""

    def __init__(self, config: MachineConfig = MACHINE) -> None:
        self.config = config
        self.machine = RecordedMachine(MachineTracker(config))
        self.written: dict[int, LogRecord] = {}
        self.quarters = [Inputs()] * (len(QUARTERS) - 1)

    def flush(self, readings: Sequence[Reading]) -> None:
        timeline, late = Timeline(), []
        for ts_ms, values in sorted(readings, key=lambda reading: reading[0]):
            try:
                self.machine.feed(ts_ms, values, {}, timeline)
            except LateReading:
                late.append((ts_ms, values))
        self.machine.tracker.settle(timeline)
        self._add(timeline, 1)
        self._write()
        if late:
            self._recompute(late)

    def _recompute(self, late: list[Reading]) -> None:
        numbered = sorted(self.written.items())
        if self.machine.entries:
            numbered.append((self.machine.seq, self.machine.open_record()))  # type: ignore[arg-type]
        base = base_of([record for _, record in numbered], min(ts for ts, _ in late))
        assert base is not None
        base_seq = numbered[base][0]
        redone = recompute(self.config, base_seq, [r for _, r in numbered[base:]], late, {})
        self.written = {seq: record for seq, record in self.written.items() if seq < base_seq}
        self.machine = redone.machine
        self._write()
        self._add(redone.before, -1)
        self._add(redone.after, 1)

    def _write(self) -> None:
        for seq, record in self.machine.take_closed():
            assert seq not in self.written
            self.written[seq] = record

    def _add(self, timeline: Timeline, sign: int) -> None:
        parts = [machine_part(part) for part in bucket_inputs(QUARTERS, PLAN, timeline, 30)]
        self.quarters = [
            q + part if sign > 0 else q - part for q, part in zip(self.quarters, parts, strict=True)
        ]


def assert_same(actual: Sequence[Inputs], expected: Sequence[Inputs]) -> None:
    for got, want in zip(actual, expected, strict=True):
        assert dataclasses.astuple(got) == pytest.approx(dataclasses.astuple(want), abs=1e-6)


# Steps of a second to past max_gap_ms; values as machines send them, bad ones too.
readings_strategy = st.lists(
    st.tuples(
        st.sampled_from([1_000, 30_000, 600_000, 2 * 3_600_000]),
        st.fixed_dictionaries(
            {"temperature": st.just(20.5)},
            optional={
                "state": st.sampled_from(["RUN", "SETUP", "FAULT", "IDLE", "OFF"]),
                "parts": st.sampled_from([0, 3, 10, 250, 999, -1, float("nan"), 7.5]),
            },
        ),
    ),
    min_size=1,
    max_size=40,
)


def timed(steps: list[tuple[int, dict[str, Scalar]]]) -> list[Reading]:
    readings, ts_ms = [], T0_MS
    for step, values in steps:
        ts_ms += step
        readings.append((ts_ms, values))
    return readings


@settings(max_examples=300, deadline=None)
@given(readings_strategy, st.data())
def test_readings_in_any_order_make_the_periods_of_readings_in_time_order(
    steps: list[tuple[int, dict[str, Scalar]]], data: st.DataObject
) -> None:
    readings = timed(steps)
    arrival = data.draw(st.permutations(readings))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(arrival)), max_size=6)))
    shuffled = Evaluator()
    for start, end in zip([0, *cuts], [*cuts, len(arrival)], strict=True):
        shuffled.flush(arrival[start:end])

    in_time = Evaluator()
    in_time.flush(readings)
    assert_same(shuffled.quarters, in_time.quarters)
    assert shuffled.machine.tracker.last_ts == in_time.machine.tracker.last_ts


def test_a_record_closes_after_its_entries_or_its_minute_and_begins_with_the_tracker() -> None:
    machine = RecordedMachine(MachineTracker(MACHINE))
    for second in range(RECORD_ENTRIES + 1):
        machine.feed(T0_MS + second * 500, {"state": "RUN", "parts": 5}, {}, Timeline())
    closing = T0_MS + RECORD_ENTRIES * 500 + 60_000
    machine.feed(closing, {"state": "IDLE"}, {}, Timeline())

    (first_seq, first), (second_seq, second) = machine.take_closed()
    assert (first_seq, second_seq, machine.seq) == (0, 1, 2)
    assert first.start is None and len(first.entries) == RECORD_ENTRIES
    # The same values again cost a timestamp; the next record spells them out again.
    assert first.entries[:2] == ((T0_MS, {"state": "RUN", "parts": 5}), (T0_MS + 500, None))
    assert second.entries == (
        (T0_MS + RECORD_ENTRIES * 500, {"state": "RUN", "parts": 5}),
        (closing, {"state": "IDLE"}),
    )
    assert second.start is not None and second.start[0] == T0_MS + (RECORD_ENTRIES - 1) * 500
    assert LogRecord.decode(second.encode()) == second
    assert list(second.readings())[1] == (closing, {"state": "IDLE"})


def test_a_machine_resumes_from_its_bytes_with_its_open_record() -> None:
    machine = RecordedMachine(MachineTracker(MACHINE))
    machine.feed(T0_MS, {"state": "RUN", "parts": 5, "temperature": float("nan")}, {}, Timeline())
    machine.feed(T0_MS + 1000, {"state": "RUN", "parts": 5}, {}, Timeline())

    resumed = RecordedMachine.from_bytes(MACHINE, machine.to_bytes())
    assert resumed == machine
    assert resumed.open_record() == LogRecord(
        None, ((T0_MS, {"state": "RUN", "parts": 5}), (T0_MS + 1000, None))
    )


def test_a_tracker_saved_before_machines_kept_logs_resumes_with_an_empty_log() -> None:
    tracker = MachineTracker(MACHINE)
    tracker.feed(T0_MS, {"state": "RUN"})

    resumed = RecordedMachine.from_bytes(MACHINE, orjson.dumps(tracker.to_list()))
    assert resumed.tracker == tracker and resumed.open_record() is None and resumed.seq == 0


def test_a_replay_starts_at_the_last_record_begun_before_the_late_reading() -> None:
    records = [
        LogRecord(None, ((100, {}),)),
        LogRecord([100], ((200, {}), (300, None))),
        LogRecord([300], ((400, {}),)),
    ]
    assert base_of(records, 350) == 1
    assert base_of(records, 200) == 0
    # Before the machine's first reading: from the start.
    assert base_of(records, 50) == 0
    # Before what the log still holds: too late.
    assert base_of(records[1:], 150) is None
    assert base_of([], 150) is None


def test_a_late_reading_sent_twice_counts_once() -> None:
    once, twice = Evaluator(), Evaluator()
    readings = timed(
        [(60_000, {"state": "RUN", "parts": 10}), (60_000, {"state": "FAULT"}), (60_000, {"state": "RUN"})]
    )
    for evaluator in (once, twice):
        evaluator.flush([readings[0], readings[2]])
        evaluator.flush([readings[1]])
    twice.flush([readings[1]])

    assert_same(twice.quarters, once.quarters)
    assert sum(q.failures for q in once.quarters) == 1


def test_the_late_reading_s_state_lasts_until_the_next_reading_even_one_the_log_abbreviated() -> None:
    evaluator, planned = Evaluator(), T0_MS + 3 * 3_600_000
    evaluator.flush([(planned + s * 1000, {"state": "RUN"}) for s in range(10)])
    evaluator.flush([(planned + 4500, {"state": "FAULT"})])

    fault = sum(q.adot for q in evaluator.quarters)
    assert fault == pytest.approx(0.5)
    assert sum(q.failures for q in evaluator.quarters) == 1
    assert sum(q.restorations for q in evaluator.quarters) == 1
