"""A machine's timeline, counters and ISO 22400-2 figures, on small timelines whose
figures are worked out by hand in the comments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

import orjson
import pytest

from services.analytics.domain.business_periods import load_zone, local_days, local_hours
from services.analytics.domain.calendar import PlannedShift, Shift, ShiftCalendar
from services.analytics.domain.conditions import compile_condition
from services.analytics.domain.counters import Counter
from services.analytics.domain.performance import Figures, Inputs, bucket_inputs
from services.analytics.domain.rules import Condition, Operand, Operator, Predicate
from services.analytics.domain.timeline import (
    Category,
    ConditionStates,
    Count,
    LateReading,
    MachineConfig,
    MachineTracker,
    Restoration,
    Segment,
    Timeline,
    ValueStates,
)
from services.kit.batches import Scalar

HOUR = 3600
STATES = ValueStates(
    "state",
    (
        ("RUN", Category.PRODUCING),
        ("SETUP", Category.SETUP),
        ("IDLE", Category.IDLE),
        ("BREAK", Category.PLANNED_DOWNTIME),
        ("FAULT", Category.FAULT),
    ),
    default=Category.IDLE,
)
MACHINE = MachineConfig(STATES, produced=Counter("parts"), scrap=Counter("scrap"), max_gap_ms=4 * HOUR * 1000)


def at(hour: int, minute: int = 0, day: int = 7, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def ms(instant: datetime) -> int:
    return int(instant.timestamp()) * 1000


def run(*readings: tuple[datetime, Mapping[str, Scalar]], config: MachineConfig = MACHINE) -> Timeline:
    tracker, timeline = MachineTracker(config), Timeline()
    for instant, values in readings:
        tracker.feed(ms(instant), values, into=timeline)
    return timeline


def plan(start: datetime, end: datetime) -> list[PlannedShift]:
    return [PlannedShift("day", start.date(), start, end)]


# --- the timeline -------------------------------------------------------------------


def test_readings_make_segments_of_the_earlier_readings_state() -> None:
    timeline = run(
        (at(6), {"state": "SETUP"}),
        (at(6, 30), {"state": "RUN"}),
        (at(7), {"state": "RUN"}),
        (at(8), {"state": "IDLE"}),
        (at(9), {"state": "RUN"}),
    )

    assert timeline.segments == [
        Segment(ms(at(6)), ms(at(6, 30)), Category.SETUP),
        Segment(ms(at(6, 30)), ms(at(8)), Category.PRODUCING),
        Segment(ms(at(8)), ms(at(9)), Category.IDLE),
    ]


def test_a_silence_longer_than_max_gap_is_unreported_not_the_last_state() -> None:
    config = MachineConfig(STATES, max_gap_ms=10 * 60_000)

    timeline = run(
        (at(6), {"state": "RUN"}), (at(6, 10), {"state": "RUN"}), (at(7), {"state": "RUN"}), config=config
    )

    assert timeline.segments == [
        Segment(ms(at(6)), ms(at(6, 10)), Category.PRODUCING),
        Segment(ms(at(6, 10)), ms(at(7)), Category.UNREPORTED),
    ]


def test_unmapped_values_take_the_default_and_true_is_not_1() -> None:
    states = ValueStates("on", ((True, Category.PRODUCING), (1, Category.SETUP)), default=Category.FAULT)

    assert [states.category({"on": value}, {}) for value in (True, 1, 1.0, False, "x")] == [
        Category.PRODUCING,
        Category.SETUP,
        Category.SETUP,
        Category.FAULT,
        Category.FAULT,
    ]
    assert states.category({}, {}) is Category.FAULT


def test_condition_states_take_the_first_test_met() -> None:
    fast = compile_condition(Condition(predicates=(Predicate("rpm", Operator.GT, Operand(100)),)))
    stopped = compile_condition(Condition(predicates=(Predicate("rpm", Operator.EQ, Operand(0)),)))
    states = ConditionStates(
        ((Category.PRODUCING, fast), (Category.IDLE, stopped)), Category.SETUP, frozenset({"rpm"})
    )
    config = MachineConfig(states, max_gap_ms=2 * HOUR * 1000)

    timeline = run(
        (at(6), {"rpm": 0}), (at(7), {"rpm": 500}), (at(8), {"rpm": 50}), (at(9), {}), config=config
    )

    # The reading at 09:00 names no rpm: the latest, 50, still holds.
    assert [s.category for s in timeline.segments] == [Category.IDLE, Category.PRODUCING]


def test_a_failure_starts_at_the_first_fault_and_a_silence_does_not_restore_it() -> None:
    config = MachineConfig(STATES, max_gap_ms=30 * 60_000)

    timeline = run(
        (at(6), {"state": "RUN"}),
        (at(6, 30), {"state": "RUN"}),
        (at(7), {"state": "FAULT"}),
        (at(7, 10), {"state": "FAULT"}),
        (at(9), {"state": "RUN"}),  # silent from 07:10 to 09:00
        config=config,
    )

    assert timeline.failures == [ms(at(7))]
    assert timeline.restorations == [Restoration(ms(at(7)), ms(at(9)))]
    assert [s.category for s in timeline.segments] == [
        Category.PRODUCING,
        Category.FAULT,
        Category.UNREPORTED,
    ]


def test_a_late_reading_is_refused() -> None:
    tracker = MachineTracker(MACHINE)
    tracker.feed(ms(at(7)), {"state": "RUN"})

    with pytest.raises(LateReading):
        tracker.feed(ms(at(6)), {"state": "IDLE"})


def test_the_tracker_resumes_from_its_bytes() -> None:
    tracker = MachineTracker(MACHINE)
    tracker.feed(ms(at(6)), {"state": "FAULT", "parts": 10, "temperature": 80.5})

    resumed = MachineTracker.from_list(MACHINE, orjson.loads(orjson.dumps(tracker.to_list())))
    assert resumed == tracker
    timeline = resumed.feed(ms(at(7)), {"state": "RUN", "parts": 25})

    assert timeline == Timeline(
        segments=[Segment(ms(at(6)), ms(at(7)), Category.FAULT)],
        counts=[Count(ms(at(7)), 15, 0)],
        restorations=[Restoration(ms(at(6)), ms(at(7)))],
    )
    # Only the state channel's value is kept.
    assert resumed.latest == {"state": "RUN"}


def test_settling_closes_the_open_segment_at_the_newest_reading_and_sums_stay_the_same() -> None:
    settled, plain = MachineTracker(MACHINE), MachineTracker(MACHINE)
    readings = [
        (ms(at(6)), {"state": "RUN"}),
        (ms(at(6, 30)), {"state": "RUN"}),
        (ms(at(7)), {"state": "IDLE"}),
    ]
    settled_timeline, plain_timeline = Timeline(), Timeline()
    for ts_ms, values in readings:
        settled.feed(ts_ms, values, into=settled_timeline)
        settled.settle(settled_timeline)
        plain.feed(ts_ms, values, into=plain_timeline)

    assert settled_timeline.segments == [
        Segment(ms(at(6)), ms(at(6, 30)), Category.PRODUCING),
        Segment(ms(at(6, 30)), ms(at(7)), Category.PRODUCING),
    ]
    assert plain_timeline.segments == [Segment(ms(at(6)), ms(at(7)), Category.PRODUCING)]
    assert (settled.category, settled.since) == (plain.category, plain.since) == (Category.IDLE, ms(at(7)))


def test_open_segments_reach_now_without_closing_anything() -> None:
    tracker = MachineTracker(MachineConfig(STATES, max_gap_ms=60 * 60_000))
    tracker.feed(ms(at(6)), {"state": "RUN"})
    tracker.feed(ms(at(7)), {"state": "RUN"})

    assert tracker.open_segments(ms(at(7, 30))) == [Segment(ms(at(6)), ms(at(7, 30)), Category.PRODUCING)]
    assert tracker.open_segments(ms(at(9))) == [
        Segment(ms(at(6)), ms(at(7)), Category.PRODUCING),
        Segment(ms(at(7)), ms(at(9)), Category.UNREPORTED),
    ]
    assert tracker.since == ms(at(6))


# --- counters -----------------------------------------------------------------------


def counts(*values: Scalar, wraps_at: int | None = None) -> list[float]:
    config = MachineConfig(STATES, produced=Counter("parts", wraps_at))
    timeline = run(*((at(6, minute), {"parts": value}) for minute, value in enumerate(values)), config=config)
    return [count.produced for count in timeline.counts]


def test_the_first_reading_sets_the_baseline() -> None:
    assert counts(1000) == []
    assert counts(1000, 1003) == [3]


def test_a_repeated_value_counts_nothing() -> None:
    assert counts(5, 5, 7) == [2]


def test_a_drop_is_a_reset_counting_from_zero() -> None:
    assert counts(100, 120, 4, 10) == [20, 4, 6]


def test_a_drop_of_a_wrapping_counter_is_a_wrap_around() -> None:
    # 65530 -> 65535 is 5, the wrap to 0 is 1, then 3 more: 65536 - 65530 + 3 = 9.
    assert counts(65530, 3, wraps_at=65536) == [9]


@pytest.mark.parametrize("bad", [float("nan"), -1, float("inf"), True, "12", 65536])
def test_a_value_that_is_no_count_changes_nothing(bad: Scalar) -> None:
    assert counts(10, bad, 15, wraps_at=65536) == [5]


def test_a_good_counter_gives_scrap_as_produced_less_good() -> None:
    config = MachineConfig(STATES, produced=Counter("parts"), good=Counter("good"))

    timeline = run((at(6), {"parts": 0, "good": 0}), (at(7), {"parts": 50, "good": 47}), config=config)

    assert timeline.counts == [Count(ms(at(7)), 50, 3)]


def test_a_machine_counts_scrap_or_good_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        MachineConfig(STATES, Counter("parts"), scrap=Counter("scrap"), good=Counter("good"))


# --- figures ------------------------------------------------------------------------


def test_an_eight_hour_shift_worked_out_by_hand() -> None:
    # Shift 06:00-14:00 (PBT 8 h = 28,800 s):
    #   06:00 setup 30 min, 06:30 producing 2.5 h, 09:00 fault 30 min, 09:30 producing 1.5 h,
    #   11:00 idle 30 min, 11:30 producing 1 h, 12:30 fault 30 min, 13:00 producing 1 h.
    # APT 6 h = 21,600 s; ASUT 1,800; ADET 1,800; ADOT 3,600. 300 parts, 12 scrap, PRU 60 s.
    #   availability  = 21,600 / 28,800          = 0.75
    #   effectiveness = 60 * 300 / 21,600        = 18,000 / 21,600 = 5/6
    #   quality       = (300 - 12) / 300         = 0.96
    #   OEE           = 0.75 * 5/6 * 0.96        = 0.6
    #   utilisation   = 21,600 / (21,600 + 1,800 + 1,800) = 6/7
    #   technical     = 21,600 / (21,600 + 1,800)         = 12/13
    #   MTBF          = 21,600 / 2 failures      = 10,800 s
    #   MTTR          = (1,800 + 1,800) / 2      = 1,800 s
    timeline = run(
        (at(6), {"state": "SETUP", "parts": 0, "scrap": 0}),
        (at(6, 30), {"state": "RUN"}),
        (at(9), {"state": "FAULT", "parts": 120}),
        (at(9, 30), {"state": "RUN"}),
        (at(11), {"state": "IDLE", "parts": 190, "scrap": 5}),
        (at(11, 30), {"state": "RUN"}),
        (at(12, 30), {"state": "FAULT", "parts": 240}),
        (at(13), {"state": "RUN"}),
        (at(14), {"state": "IDLE", "parts": 300, "scrap": 12}),
    )

    (inputs,) = bucket_inputs([at(6), at(14)], plan(at(6), at(14)), timeline, pru_seconds=60)
    figures = Figures.of(inputs)

    assert inputs == Inputs(
        pbt=28_800,
        apt=21_600,
        asut=1_800,
        adet=1_800,
        adot=3_600,
        operating=21_600,
        pq=300,
        sq=12,
        ideal_production=18_000,
        failures=2,
        restorations=2,
        restoration=3_600,
    )
    assert figures.availability == 0.75
    assert figures.effectiveness == pytest.approx(5 / 6)
    assert figures.quality_ratio == 0.96
    assert figures.oee == pytest.approx(0.6)
    assert figures.utilisation_efficiency == pytest.approx(6 / 7)
    assert figures.technical_efficiency == pytest.approx(12 / 13)
    assert (figures.mtbf, figures.mttr) == (10_800, 1_800)


def test_planned_downtime_leaves_planned_busy_time_and_silence_is_unreported() -> None:
    # Plan 06:00-10:00 (4 h): 1 h producing, 30 min break, then silent from 07:30; the
    # machine reports again at 09:00 and runs to 10:00.
    # PDOT 1,800; PBT 14,400 - 1,800 = 12,600; APT 7,200; unreported 5,400.
    config = MachineConfig(STATES, max_gap_ms=15 * 60_000)
    timeline = run(
        (at(6), {"state": "RUN"}),
        (at(6, 15), {"state": "RUN"}),
        (at(6, 30), {"state": "RUN"}),
        (at(6, 45), {"state": "RUN"}),
        (at(7), {"state": "BREAK"}),
        (at(7, 15), {"state": "BREAK"}),
        (at(7, 30), {"state": "BREAK"}),
        (at(9), {"state": "RUN"}),
        *((at(9, minute), {"state": "RUN"}) for minute in (15, 30, 45)),
        (at(10), {"state": "IDLE"}),
        config=config,
    )

    (inputs,) = bucket_inputs([at(6), at(10)], plan(at(6), at(10)), timeline, pru_seconds=60)

    assert (inputs.pdot, inputs.pbt, inputs.apt, inputs.unreported) == (1_800, 12_600, 7_200, 5_400)
    assert Figures.of(inputs).availability == pytest.approx(7_200 / 12_600)


def test_the_berlin_night_shift_has_nine_local_hours_when_the_clocks_go_back() -> None:
    # 22:00 CEST on 2026-10-24 (20:00 UTC) to 06:00 CET (05:00 UTC): a part every 30 s
    # all night, PRU 30 s. Each local hour: PBT = APT = 3,600 s, 120 parts, A = E = 1.
    calendar = ShiftCalendar("Europe/Berlin", {5: [Shift("night", time(22), time(6))]})
    start, end = at(20, day=24, month=10), at(5, day=25, month=10)
    timeline = run(
        *((start + timedelta(minutes=m), {"state": "RUN", "parts": 2 * m}) for m in range(0, 540, 10)),
        (end, {"state": "IDLE", "parts": 1_080}),
    )

    hours = local_hours(calendar.tz, start, end)
    buckets = bucket_inputs(hours, calendar.planned(start, end), timeline, pru_seconds=30)

    assert len(buckets) == 9
    assert [(b.pbt, b.apt, b.pq) for b in buckets] == [(3_600, 3_600, 120)] * 9
    total = sum(buckets, Inputs())
    assert (total.pbt, total.pq) == (9 * HOUR, 1_080)
    assert (Figures.of(total).availability, Figures.of(total).effectiveness) == (1, 1)


def test_a_shanghai_night_shift_splits_into_its_two_local_days() -> None:
    # Monday 20:00-04:00 CST is 12:00-20:00 UTC; local midnight is 16:00 UTC.
    #   11:00-12:00 UTC producing outside the plan, 12:00-15:00 producing,
    #   15:00-17:00 fault (across midnight), 17:00-20:00 producing, 20:00-22:00 idle (no plan).
    # Monday: PBT 4 h, APT 3 h, ADOT 1 h, the failure, unplanned producing 1 h, 90 parts.
    # Tuesday: PBT 4 h, APT 3 h, ADOT 1 h, the restoration of 2 h, idle outside plan 2 h.
    calendar = ShiftCalendar("Asia/Shanghai", {0: [Shift("night", time(20), time(4))]})
    timeline = run(
        (at(11), {"state": "RUN", "parts": 0}),
        (at(12), {"state": "RUN", "parts": 30}),
        (at(15), {"state": "FAULT", "parts": 120}),
        (at(17), {"state": "RUN"}),
        (at(20), {"state": "IDLE", "parts": 210}),
        (at(22), {"state": "RUN"}),
    )
    days = local_days(calendar.tz, at(11), at(22))

    monday, tuesday = bucket_inputs(days, calendar.planned(days[0], days[-1]), timeline, pru_seconds=60)

    assert days == [at(16, day=6), at(16), at(16, day=8)]
    assert monday == Inputs(
        pbt=4 * HOUR,
        apt=3 * HOUR,
        adot=HOUR,
        unplanned_producing=HOUR,
        operating=4 * HOUR,
        pq=90,
        unplanned_pq=30,
        ideal_production=5_400,
        failures=1,
    )
    assert tuesday == Inputs(
        pbt=4 * HOUR,
        apt=3 * HOUR,
        adot=HOUR,
        idle_outside_plan=2 * HOUR,
        operating=3 * HOUR,
        pq=90,
        ideal_production=5_400,
        restorations=1,
        restoration=2 * HOUR,
    )
    # Per shift, the same night is one business date: Monday's.
    assert calendar.shift_at(at(19)) == PlannedShift("night", date(2026, 12, 7), at(12), at(20))


def test_a_counter_reset_mid_shift_counts_on_from_zero() -> None:
    # 0 -> 100, reset, 0 -> 40: 140 parts; at PRU 100 s, 14,000 s of 4 h: E = 35/36.
    timeline = run(
        (at(6), {"state": "RUN", "parts": 0}),
        (at(8), {"state": "RUN", "parts": 100}),
        (at(8, 1), {"state": "RUN", "parts": 0}),
        (at(10), {"state": "IDLE", "parts": 40}),
    )

    (inputs,) = bucket_inputs([at(6), at(10)], plan(at(6), at(10)), timeline, pru_seconds=100)

    assert inputs.pq == 140
    assert Figures.of(inputs).effectiveness == pytest.approx(14_000 / 14_400)


def test_a_count_at_a_shift_end_belongs_to_the_shift() -> None:
    timeline = run((at(6), {"parts": 0}), (at(14), {"parts": 80}), (at(15), {"parts": 90}))

    first, second = bucket_inputs([at(6), at(14), at(16)], plan(at(6), at(14)), timeline, pru_seconds=1)

    assert (first.pq, first.unplanned_pq, second.pq, second.unplanned_pq) == (80, 0, 0, 10)


def test_figures_are_none_where_undefined() -> None:
    nothing = Figures.of(Inputs())
    idle = Figures.of(Inputs(pbt=HOUR, adet=HOUR))

    assert nothing == Figures(Inputs(), None, None, None, None, None, None, None, None)
    assert (idle.availability, idle.effectiveness, idle.quality_ratio, idle.oee) == (0, None, None, None)
    assert (idle.utilisation_efficiency, idle.technical_efficiency, idle.mtbf, idle.mttr) == (
        0,
        0,
        None,
        None,
    )


def test_inputs_add_up() -> None:
    a = Inputs(pbt=HOUR, apt=1_800, pq=30, sq=1, ideal_production=1_800, failures=1)
    b = Inputs(pbt=HOUR, apt=3_600, pq=40, sq=3, ideal_production=1_200, restorations=1, restoration=600)

    total = a + b

    assert total == Inputs(
        pbt=7_200,
        apt=5_400,
        pq=70,
        sq=4,
        ideal_production=3_000,
        failures=1,
        restorations=1,
        restoration=600,
    )
    assert (total.gq, total.aubt) == (66, 5_400)


def test_bucket_boundaries_must_increase() -> None:
    with pytest.raises(ValueError, match="increase"):
        bucket_inputs([at(7), at(6)], [], Timeline(), pru_seconds=1)


def test_load_zone_is_the_zone_of_business_periods() -> None:
    assert load_zone("Asia/Shanghai") == ShiftCalendar("Asia/Shanghai", {}).tz
