"""Alarm rules evaluated on one device's readings, example by example: every trigger
kind, operator and type rule, per-machine thresholds, severities going up and down,
the ways to clear, ticks, readings out of order or twice, new rule versions, alarms a
person cleared, anomalies, and the state going through bytes."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.analytics.domain.anomalies import AnomalyKind, DetectorSettings
from services.analytics.domain.conditions import compile_condition
from services.analytics.domain.evaluation import (
    CompiledRule,
    apply_reading,
    apply_tick,
    forget_alarm,
    next_deadline,
)
from services.analytics.domain.rules import (
    AlarmRule,
    ClearCondition,
    Combinator,
    Condition,
    Detector,
    Operand,
    Operator,
    Predicate,
    Scalar,
    Severity,
    Trigger,
    TriggerKind,
)
from services.analytics.domain.states import DeviceState, Transition, TransitionKind, TriggerTracker

T0 = 1_700_000_000_000
CREATED = datetime(2026, 12, 1, tzinfo=UTC)
RULE = "overheat"
WARNING, MAJOR, CRITICAL = Severity.WARNING, Severity.MAJOR, Severity.CRITICAL
AT_ONCE = ClearCondition(unmet_for_seconds=0)


def at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def compare(channel: str, operator: Operator, value: Scalar, upper: Scalar | None = None) -> Predicate:
    return Predicate(channel, operator, Operand(constant=value), None if upper is None else Operand(upper))


def above(channel: str, value: Scalar) -> Predicate:
    return compare(channel, Operator.GT, value)


def below(channel: str, value: Scalar) -> Predicate:
    return compare(channel, Operator.LT, value)


def when(*predicates: Predicate) -> Condition:
    return Condition(predicates=predicates)


def simple(*predicates: Predicate) -> Trigger:
    return Trigger(TriggerKind.SIMPLE, when(*predicates))


def no_data(seconds: int, channel: str = "") -> Trigger:
    return Trigger(TriggerKind.NO_DATA, seconds=seconds, channel=channel)


def rule(
    create: dict[Severity, Trigger],
    clear: ClearCondition = AT_ONCE,
    version: int = 1,
    labels: dict[str, str] | None = None,
) -> CompiledRule:
    return CompiledRule(
        AlarmRule(
            RULE,
            "tenant",
            "profile",
            "spindle overheating",
            labels or {},
            create,
            clear,
            version,
            CREATED,
            CREATED,
        )
    )


def raised(severity: Severity, seconds: float, **reading: Scalar) -> Transition:
    return Transition(
        RULE, TransitionKind.RAISED, severity, None, at(seconds), "", {**reading, "ts": at(seconds)}
    )


def changed(
    severity: Severity, previous: Severity, seconds: float, alarm_id: str, **reading: Scalar
) -> Transition:
    ts = at(seconds)
    return Transition(
        RULE, TransitionKind.SEVERITY_CHANGED, severity, previous, ts, alarm_id, {**reading, "ts": ts}
    )


def cleared(severity: Severity, seconds: float, alarm_id: str, **reading: Scalar) -> Transition:
    ts = at(seconds)
    return Transition(RULE, TransitionKind.CLEARED, severity, severity, ts, alarm_id, {**reading, "ts": ts})


class Device:
    """One device as the evaluator's caller sees it: it applies samples and ticks and
    numbers the alarms raised ("alarm-1", ...), as storing them would."""

    def __init__(self, *rules: CompiledRule, attributes: dict[str, Any] | None = None) -> None:
        self.state = DeviceState()
        self.rules = list(rules)
        self.attributes = attributes or {}
        self.alarms = 0

    def read(self, seconds: float, now: float | None = None, **values: Scalar) -> list[Transition]:
        ts = at(seconds)
        now_ms = ts if now is None else at(now)
        return self.stored(apply_reading(self.state, self.rules, self.attributes, ts, values, now_ms))

    def tick(self, now: float) -> list[Transition]:
        return self.stored(apply_tick(self.state, self.rules, self.attributes, at(now)))

    def stored(self, transitions: list[Transition]) -> list[Transition]:
        for transition in transitions:
            if transition.kind is TransitionKind.RAISED:
                self.alarms += 1
                self.state.rules[transition.rule_id].alarm_id = f"alarm-{self.alarms}"
        return transitions


def meets(predicate: Predicate, value: Scalar, attributes: dict[str, Any] | None = None) -> bool:
    """Whether one reading of `value` on the predicate's channel raises a SIMPLE alarm."""
    device = Device(rule({CRITICAL: simple(predicate)}), attributes=attributes)
    transitions = device.read(1, **{predicate.channel: value})
    assert transitions in ([], [raised(CRITICAL, 1, **{predicate.channel: value})])
    return bool(transitions)


# --- conditions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "operand", "upper", "value", "met"),
    [
        (Operator.GT, 90, None, 90.5, True),
        (Operator.GT, 90, None, 90, False),
        (Operator.GE, 90, None, 90.0, True),
        (Operator.GE, 90, None, 89.9, False),
        (Operator.LT, 10.5, None, 10, True),
        (Operator.LT, 10, None, 10, False),
        (Operator.LE, 10, None, 10, True),
        (Operator.LE, 10, None, 10.1, False),
        (Operator.EQ, 5, None, 5.0, True),
        (Operator.EQ, 5, None, 5.5, False),
        (Operator.NE, 5, None, 6, True),
        (Operator.NE, 5.0, None, 5, False),
        (Operator.INSIDE, 10, 20, 10, True),
        (Operator.INSIDE, 10, 20, 20.0, True),
        (Operator.INSIDE, 10, 20, 9.99, False),
        (Operator.INSIDE, 10, 20, 20.01, False),
        (Operator.OUTSIDE, 10, 20, 9.99, True),
        (Operator.OUTSIDE, 10, 20, 21, True),
        (Operator.OUTSIDE, 10, 20, 10, False),
        (Operator.OUTSIDE, 10, 20, 20, False),
    ],
)
def test_numbers_take_every_operator(
    operator: Operator, operand: Scalar, upper: Scalar | None, value: Scalar, met: bool
) -> None:
    assert meets(compare("temp", operator, operand, upper), value) is met


@pytest.mark.parametrize(
    ("operator", "operand", "value", "met"),
    [
        (Operator.EQ, True, True, True),
        (Operator.NE, True, False, True),
        (Operator.EQ, "cutting", "cutting", True),
        (Operator.NE, "cutting", "idle", True),
        # bool is not a number: neither equal to 1 nor greater than 0.
        (Operator.EQ, True, 1, False),
        (Operator.EQ, 1, True, False),
        (Operator.GT, 0, True, False),
        (Operator.GE, 0.0, False, False),
        # Of another type, a value is not "different" either: the predicate is unmet.
        (Operator.NE, "cutting", 5, False),
        (Operator.NE, 5, "cutting", False),
        (Operator.NE, False, 0, False),
        (Operator.EQ, "5", 5, False),
        # bool and str take EQ and NE only.
        (Operator.GT, "a", "b", False),
        (Operator.LT, True, False, False),
        (Operator.LE, "idle", "idle", False),
    ],
)
def test_types_are_strict_and_never_raise(
    operator: Operator, operand: Scalar, value: Scalar, met: bool
) -> None:
    assert meets(compare("mode", operator, operand), value) is met


@pytest.mark.parametrize(
    ("lower", "upper", "value"),
    [(True, 20, 15), (10, "20", 15), (10, 20, True), (10, 20, "15")],
)
def test_ranges_are_of_numbers_only(lower: Scalar, upper: Scalar, value: Scalar) -> None:
    assert not meets(compare("temp", Operator.INSIDE, lower, upper), value)
    assert not meets(compare("temp", Operator.OUTSIDE, lower, upper), value)


def test_a_channel_without_a_value_meets_nothing() -> None:
    device = Device(rule({CRITICAL: simple(compare("temp", Operator.NE, 90))}))
    assert device.read(1, rpm=1200) == []
    assert device.read(2, temp=80) == [raised(CRITICAL, 2, temp=80)]


@pytest.mark.parametrize(
    ("limit", "value", "met"),
    [
        (80, 85, True),
        (80, 80, False),
        (80.5, 81, True),
        (80, 80.5, True),
        # Missing, or of another type: the predicate is unmet.
        (None, 85, False),
        ("80", 85, False),
        (True, 85, False),
        (85, True, False),
    ],
)
def test_attributes_are_per_machine_thresholds(limit: Any, value: Scalar, met: bool) -> None:
    predicate = Predicate("temp", Operator.GT, Operand(attribute="limit"))
    attributes = {} if limit is None else {"limit": limit}
    assert meets(predicate, value, attributes) is met


@pytest.mark.parametrize(
    ("expected", "value", "met"),
    [("cutting", "cutting", True), ("cutting", "idle", False), (1, True, False), (1.0, 1, True)],
)
def test_attributes_compare_for_equality_within_their_type(expected: Any, value: Scalar, met: bool) -> None:
    predicate = Predicate("mode", Operator.EQ, Operand(attribute="expected"))
    assert meets(predicate, value, {"expected": expected}) is met


@pytest.mark.parametrize(("value", "met"), [(10, True), (20, True), (9.5, False), (21, False)])
def test_ranges_take_attributes(value: Scalar, met: bool) -> None:
    predicate = Predicate("temp", Operator.INSIDE, Operand(attribute="low"), Operand(attribute="high"))
    assert meets(predicate, value, {"low": 10, "high": 20.0}) is met
    assert not meets(predicate, value, {"low": 10})


@pytest.mark.parametrize(
    ("values", "met"),
    [
        ({"temp": 95, "rpm": 100, "on": False}, True),
        ({"temp": 80, "rpm": 1200, "on": True}, True),
        ({"temp": 80, "rpm": 1200, "on": False}, False),
        ({"temp": 80, "rpm": 100, "on": True}, False),
        ({}, False),
    ],
)
def test_conditions_nest_all_and_any(values: dict[str, Scalar], met: bool) -> None:
    both = Condition(Combinator.ALL, (above("rpm", 1000), compare("on", Operator.EQ, True)))
    condition = Condition(Combinator.ANY, (above("temp", 90),), (both,))
    assert compile_condition(condition)(values, {}) is met


def test_all_of_nothing_holds_and_any_of_nothing_does_not() -> None:
    assert compile_condition(Condition(Combinator.ALL))({}, {}) is True
    assert compile_condition(Condition(Combinator.ANY))({}, {}) is False


# --- triggers -----------------------------------------------------------------------


def test_a_simple_trigger_raises_while_met_and_clears_at_once() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    assert device.read(0, temp=85) == []
    assert device.read(1, temp=95) == [raised(CRITICAL, 1, temp=95)]
    assert device.read(2, temp=96) == []
    assert device.read(3, temp=80) == [cleared(CRITICAL, 3, "alarm-1", temp=80)]
    assert device.read(4, temp=91) == [raised(CRITICAL, 4, temp=91)]


def test_duration_needs_the_condition_held_for_its_seconds_of_reading_time() -> None:
    device = Device(rule({CRITICAL: Trigger(TriggerKind.DURATION, when(above("temp", 90)), seconds=60)}))
    assert device.read(0, temp=95) == []
    assert device.read(30, temp=85) == []
    assert device.read(40, temp=95) == []
    assert device.read(99.999, temp=97) == []
    assert device.read(100, temp=91) == [raised(CRITICAL, 100, temp=91)]


def test_repeating_counts_readings_in_a_row_at_distinct_times() -> None:
    device = Device(rule({CRITICAL: Trigger(TriggerKind.REPEATING, when(above("temp", 90)), count=3)}))
    assert device.read(0, temp=95) == []
    assert device.read(1, temp=95) == []
    assert device.read(2, temp=85) == []
    assert device.read(3, temp=95) == []
    assert device.read(4, temp=96) == []
    # The same reading again, or more channels of it: still two readings.
    assert device.read(4, temp=96) == []
    assert device.read(4, rpm=1200) == []
    assert device.read(5, temp=97) == [raised(CRITICAL, 5, temp=97)]


def test_no_data_of_the_device_raises_on_a_tick_and_clears_on_a_reading() -> None:
    device = Device(rule({CRITICAL: no_data(60)}))
    assert device.read(0, rpm=1200) == []
    assert device.tick(59.999) == []
    assert device.tick(60) == [raised(CRITICAL, 60)]
    assert device.tick(120) == []
    # A reading that comes late is no news: its time is still a minute past.
    assert device.read(50, now=130, rpm=1100) == []
    assert device.read(100, now=130, rpm=1000) == [cleared(CRITICAL, 100, "alarm-1")]


def test_no_data_of_a_channel_waits_for_that_channel_only() -> None:
    device = Device(rule({MAJOR: no_data(60, "temp")}))
    assert device.read(0, temp=20.5, rpm=900) == []
    assert device.read(50, rpm=1000) == []
    assert device.tick(60) == [raised(MAJOR, 60, temp=20.5)]
    assert device.read(70, rpm=1100) == []
    assert device.read(75, temp=21.0) == [cleared(MAJOR, 75, "alarm-1", temp=21.0)]


def test_no_data_of_a_channel_never_read_waits_for_its_first_reading() -> None:
    device = Device(rule({MAJOR: no_data(60, "temp")}))
    assert device.read(0, rpm=900) == []
    assert device.tick(3600) == []
    assert next_deadline(device.state, device.rules) is None


def test_ticks_before_any_reading_do_nothing() -> None:
    device = Device(rule({CRITICAL: no_data(60)}))
    assert device.tick(3600) == []
    assert device.state == DeviceState()


def test_a_rule_is_evaluated_only_on_samples_naming_its_channels() -> None:
    device = Device(rule({CRITICAL: Trigger(TriggerKind.REPEATING, when(above("temp", 90)), count=2)}))
    assert device.read(0, temp=95) == []
    assert device.read(1, rpm=1200) == []
    assert device.read(2, temp=95) == [raised(CRITICAL, 2, temp=95)]


def test_a_trigger_counts_only_the_readings_of_its_own_channels() -> None:
    repeating = Trigger(TriggerKind.REPEATING, when(above("temp", 90)), count=2)
    device = Device(rule({MAJOR: repeating, WARNING: simple(above("rpm", 1000))}))
    assert device.read(0, temp=95, rpm=500) == []
    assert device.read(1, rpm=600) == []
    assert device.read(2, temp=96) == [raised(MAJOR, 2, temp=96, rpm=600)]


# --- severities and clearing ----------------------------------------------------------


def test_the_most_severe_met_trigger_decides_up_and_down() -> None:
    device = Device(rule({WARNING: simple(above("temp", 70)), CRITICAL: simple(above("temp", 90))}))
    assert device.read(0, temp=75) == [raised(WARNING, 0, temp=75)]
    assert device.read(1, temp=95) == [changed(CRITICAL, WARNING, 1, "alarm-1", temp=95)]
    assert device.read(2, temp=92) == []
    assert device.read(3, temp=80) == [changed(WARNING, CRITICAL, 3, "alarm-1", temp=80)]
    assert device.read(4, temp=60) == [cleared(WARNING, 4, "alarm-1", temp=60)]


def test_a_clear_trigger_gives_hysteresis() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}, ClearCondition(simple(below("temp", 80)))))
    assert device.read(0, temp=95) == [raised(CRITICAL, 0, temp=95)]
    assert device.read(1, temp=85) == []
    assert device.read(2, temp=92) == []
    assert device.read(3, temp=85) == []
    assert device.read(4, temp=75) == [cleared(CRITICAL, 4, "alarm-1", temp=75)]
    assert device.read(5, temp=85) == []
    assert device.read(6, temp=91) == [raised(CRITICAL, 6, temp=91)]


def test_a_met_create_trigger_wins_over_a_met_clear_trigger() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}, ClearCondition(simple(below("temp", 95)))))
    assert device.read(0, temp=92) == [raised(CRITICAL, 0, temp=92)]
    assert device.read(1, temp=93) == []
    assert device.read(2, temp=85) == [cleared(CRITICAL, 2, "alarm-1", temp=85)]


def test_a_clear_trigger_of_its_own_kind_and_channels() -> None:
    clear = Trigger(TriggerKind.DURATION, when(below("coolant", 30)), seconds=10)
    device = Device(rule({CRITICAL: simple(above("temp", 90))}, ClearCondition(clear)))
    assert device.read(0, temp=95, coolant=40) == [raised(CRITICAL, 0, temp=95, coolant=40)]
    assert device.read(1, temp=80, coolant=25) == []
    assert device.read(10, coolant=20) == []
    assert device.read(11, coolant=20) == [cleared(CRITICAL, 11, "alarm-1", temp=80, coolant=20)]


def test_without_a_clear_trigger_an_alarm_clears_once_unmet_for_its_seconds() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}, ClearCondition(unmet_for_seconds=30)))
    assert device.read(0, temp=95) == [raised(CRITICAL, 0, temp=95)]
    assert device.read(10, temp=85) == []
    assert device.read(20, temp=95) == []
    assert device.read(25, temp=85) == []
    assert device.read(54.999, temp=85) == []
    assert device.read(55, temp=84) == [cleared(CRITICAL, 55, "alarm-1", temp=84)]


def test_ticks_do_not_measure_how_long_an_alarm_went_unmet() -> None:
    device = Device(
        rule(
            {CRITICAL: simple(above("temp", 90)), WARNING: no_data(600, "temp")},
            ClearCondition(unmet_for_seconds=10),
        )
    )
    assert device.read(0, temp=95) == [raised(CRITICAL, 0, temp=95)]
    assert device.read(5, temp=85) == []
    assert device.tick(100) == []
    assert device.read(14, now=101, temp=85) == []
    assert device.read(15, now=102, temp=85) == [cleared(CRITICAL, 15, "alarm-1", temp=85)]


def test_a_tick_escalates_an_active_alarm() -> None:
    device = Device(rule({WARNING: simple(above("temp", 70)), CRITICAL: no_data(60, "temp")}))
    assert device.read(0, temp=75) == [raised(WARNING, 0, temp=75)]
    assert device.tick(60) == [changed(CRITICAL, WARNING, 60, "alarm-1", temp=75)]
    assert device.read(61, temp=76) == [changed(WARNING, CRITICAL, 61, "alarm-1", temp=76)]


def test_a_transition_shows_the_rules_channels_only() -> None:
    clear = ClearCondition(simple(below("coolant", 30)))
    device = Device(rule({CRITICAL: simple(above("temp", 90)), WARNING: no_data(60, "door")}, clear))
    assert device.read(0, temp=95, coolant=40, door=False, rpm=1200) == [
        raised(CRITICAL, 0, temp=95, coolant=40, door=False)
    ]


# --- readings out of order, twice, or merged --------------------------------------------


def test_an_older_reading_changes_nothing() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    assert device.read(10, temp=50) == []
    before = device.state.to_bytes()
    assert device.read(9.999, temp=95) == []
    assert device.state.to_bytes() == before
    assert device.state.values == {"temp": 50}
    assert device.state.seen_ts == at(10)


def test_a_reading_delivered_twice_changes_nothing_the_second_time() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    assert device.read(1, temp=95) == [raised(CRITICAL, 1, temp=95)]
    before = device.state.to_bytes()
    assert device.read(1, temp=95) == []
    assert device.state.to_bytes() == before


def test_samples_at_the_same_time_are_merged() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90), above("rpm", 1000))}))
    assert device.read(1, temp=95) == []
    assert device.read(1, rpm=1200) == [raised(CRITICAL, 1, temp=95, rpm=1200)]


def test_an_empty_sample_changes_nothing() -> None:
    device = Device(rule({CRITICAL: no_data(60)}))
    assert device.read(1) == []
    assert device.state == DeviceState()


# --- rule versions ------------------------------------------------------------------


def test_a_new_version_restarts_progress_towards_a_duration() -> None:
    trigger = Trigger(TriggerKind.DURATION, when(above("temp", 90)), seconds=60)
    device = Device(rule({CRITICAL: trigger}))
    assert device.read(0, temp=95) == []
    assert device.read(30, temp=95) == []
    device.rules = [rule({CRITICAL: trigger}, version=2)]
    assert device.read(40, temp=95) == []
    assert device.read(60, temp=95) == []
    assert device.read(99.999, temp=95) == []
    assert device.read(100, temp=95) == [raised(CRITICAL, 100, temp=95)]


def test_a_new_version_keeps_the_active_alarm() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    assert device.read(0, temp=92) == [raised(CRITICAL, 0, temp=92)]
    device.rules = [rule({CRITICAL: simple(above("temp", 95))}, version=2)]
    assert device.read(1, temp=97) == []
    assert device.read(2, temp=93) == [cleared(CRITICAL, 2, "alarm-1", temp=93)]


def test_a_new_rule_starts_from_the_latest_value_of_every_channel() -> None:
    device = Device()
    assert device.read(0, temp=80, rpm=1200) == []
    device.rules = [rule({WARNING: simple(above("temp", 90)), CRITICAL: simple(above("rpm", 1000))})]
    # The sample names temp only; the rpm read before the rule existed counts.
    assert device.read(1, temp=81) == [raised(CRITICAL, 1, temp=81, rpm=1200)]


def test_a_rule_not_passed_keeps_its_state() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    assert device.read(0, temp=95) == [raised(CRITICAL, 0, temp=95)]
    kept = device.state.to_bytes()
    device.rules = []
    assert device.read(1, temp=50) == []
    assert device.tick(100) == []
    assert DeviceState.from_bytes(kept).rules == device.state.rules


# --- alarms a person cleared ----------------------------------------------------------


def test_an_alarm_a_person_cleared_is_raised_again_once_unmet_and_met_anew() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    assert device.read(0, temp=95) == [raised(CRITICAL, 0, temp=95)]
    assert forget_alarm(device.state, RULE, "alarm-0") is False
    assert forget_alarm(device.state, RULE, "alarm-1") is True
    assert forget_alarm(device.state, RULE, "alarm-1") is False
    # Remembered across a restart too.
    device.state = DeviceState.from_bytes(device.state.to_bytes())
    assert device.read(1, temp=96) == []
    assert device.read(2, temp=80) == []
    assert device.read(3, temp=95) == [raised(CRITICAL, 3, temp=95)]
    assert device.state.rules[RULE].alarm_id == "alarm-2"


def test_forgetting_an_alarm_of_an_unknown_rule_changes_nothing() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    assert device.read(0, temp=95) == [raised(CRITICAL, 0, temp=95)]
    assert forget_alarm(device.state, "another", "alarm-1") is False
    assert device.read(1, temp=80) == [cleared(CRITICAL, 1, "alarm-1", temp=80)]


# --- deadlines ------------------------------------------------------------------------


def test_the_next_deadline_is_when_a_tick_would_find_a_channel_silent() -> None:
    device = Device(rule({MAJOR: no_data(60, "temp"), CRITICAL: no_data(300)}))
    assert next_deadline(device.state, device.rules) is None
    device.read(0, temp=20)
    device.read(10, rpm=900)
    assert next_deadline(device.state, device.rules) == at(60)
    assert device.tick(60) == [raised(MAJOR, 60, temp=20)]
    assert next_deadline(device.state, device.rules) == at(310)
    device.read(70, temp=21)
    assert next_deadline(device.state, device.rules) == at(130)


def test_no_deadline_without_a_no_data_trigger_and_at_once_for_a_new_version() -> None:
    device = Device(rule({CRITICAL: simple(above("temp", 90))}))
    device.read(0, temp=20)
    assert next_deadline(device.state, device.rules) is None
    device.rules = [rule({CRITICAL: no_data(60)}, version=2)]
    assert next_deadline(device.state, device.rules) == at(0)


# --- compiled rules -------------------------------------------------------------------


def test_a_compiled_rule_names_every_channel_it_reads() -> None:
    compiled = rule(
        {CRITICAL: simple(above("temp", 90)), WARNING: no_data(60, "door")},
        ClearCondition(simple(below("coolant", 30))),
        labels={"line": "2"},
    )
    assert compiled.channels == {"temp", "door", "coolant"}
    assert compiled.has_no_data
    assert not compiled.whole_device
    assert compiled.applies_to({"line": "2", "hall": "B"})
    assert not compiled.applies_to({"line": "3"})
    assert rule({CRITICAL: no_data(60)}).whole_device


# --- anomalies ----------------------------------------------------------------------

WARMUP = 30


def anomaly(kinds: frozenset[AnomalyKind] = frozenset(AnomalyKind), **settings: Any) -> Trigger:
    detector = Detector(DetectorSettings(**{"warmup": WARMUP, **settings}), kinds)
    return Trigger(TriggerKind.ANOMALY, channel="vibration", detector=detector)


def vibrating(count: int, seed: int = 1) -> list[float]:
    """A noisy channel: a level of 10, one standard deviation of 1."""
    rng = random.Random(seed)
    return [rng.gauss(10.0, 1.0) for _ in range(count)]


def vibrate(device: Device, values: list[float], first: int = 0) -> list[Transition]:
    """Readings of vibration one a second from second `first`; every transition."""
    return [t for i, value in enumerate(values) for t in device.read(first + i, vibration=value)]


def test_an_anomaly_rule_raises_one_alarm_at_a_spike_with_its_score_and_band_and_clears_once_unmet() -> None:
    values = vibrating(200)
    values[150] = 30.0
    device = Device(rule({MAJOR: anomaly()}, ClearCondition(unmet_for_seconds=10)))

    raising, clearing = vibrate(device, values)

    # The verdict comes with the next reading, and names the spike's own.
    assert (raising.kind, raising.severity, raising.ts_ms) == (TransitionKind.RAISED, MAJOR, at(151))
    assert (raising.reading["vibration"], raising.reading["ts"]) == (30.0, at(150))
    verdict = raising.reading["anomaly"]
    assert verdict["kind"] == "spike"
    low, high = verdict["low"], verdict["high"]
    assert (low, high) == (pytest.approx(10 - 4.5, abs=0.6), pytest.approx(10 + 4.5, abs=0.6))
    # The band is 4.5 sigma either side of the level; the score, the spike's sigma from it.
    sigma = (high - low) / 9
    assert verdict["score"] == pytest.approx((30.0 - (low + high) / 2) / sigma)
    # Unmet from the reading after, for 10 s.
    assert clearing == cleared(MAJOR, 162, "alarm-1", vibration=values[162])


def test_an_anomaly_rule_raises_nothing_during_the_warm_up() -> None:
    wild = [10.0, 1000.0, -1000.0, 10.0, 1e9] + [5.0] * (WARMUP - 5)
    device = Device(rule({MAJOR: anomaly()}))
    assert vibrate(device, wild) == []
    assert [t.kind for t in vibrate(device, [1e9, 5.0], first=WARMUP)] == [TransitionKind.RAISED]


def test_a_stuck_channel_raises_an_alarm_of_kind_stuck() -> None:
    # Stuck near its level, which no shift explains.
    values = vibrating(100) + [10.25] * 12
    device = Device(rule({WARNING: anomaly(stuck_readings=10)}))

    raising, clearing = vibrate(device, values)

    assert (raising.ts_ms, raising.reading["vibration"], raising.reading["ts"]) == (at(109), 10.25, at(109))
    assert raising.reading["anomaly"]["kind"] == "stuck"
    assert raising.reading["anomaly"]["score"] == 10
    # One verdict per run: the run's next reading meets the trigger no more.
    assert clearing == cleared(WARNING, 110, "alarm-1", vibration=10.25)


def test_kinds_not_chosen_raise_nothing() -> None:
    values = vibrating(200)
    values[150] = 30.0
    device = Device(rule({MAJOR: anomaly(frozenset({AnomalyKind.STUCK}))}))
    assert vibrate(device, values) == []


def test_an_anomaly_trigger_learns_only_its_channels_readings() -> None:
    spiked = vibrating(100)
    spiked[80] = 30.0
    device = Device(rule({MAJOR: anomaly(), WARNING: simple(above("temp", 90))}))
    transitions = []
    for second, value in enumerate(spiked):
        # Samples of temp alone between vibration's: none of them is a vibration reading.
        assert device.read(second, temp=50) == []
        transitions += device.read(second + 0.5, vibration=value)
    assert [(t.kind, t.ts_ms, t.reading["ts"]) for t in transitions] == [
        (TransitionKind.RAISED, at(81.5), at(80.5)),
        (TransitionKind.CLEARED, at(82.5), at(82.5)),
    ]
    detector = device.state.rules[RULE].trackers[MAJOR].detector
    assert detector is not None and detector.count == 100


def test_a_sample_merged_at_the_time_of_a_verdict_keeps_it() -> None:
    values = vibrating(100)
    values[80] = 30.0
    device = Device(rule({MAJOR: anomaly()}))
    assert [t.kind for t in vibrate(device, values[:82])] == [TransitionKind.RAISED]
    assert device.read(81, vibration=values[81]) == []
    assert device.state.rules[RULE].trackers[MAJOR].anomaly is not None
    assert [t.kind for t in device.read(82, vibration=values[82])] == [TransitionKind.CLEARED]


def test_a_new_version_of_an_anomaly_rule_warms_up_again() -> None:
    device = Device(rule({MAJOR: anomaly()}))
    assert vibrate(device, vibrating(100)) == []
    device.rules = [rule({MAJOR: anomaly()}, version=2)]
    # A spike the first version would have found, within the second's warm-up.
    assert vibrate(device, [10.0, 30.0, 10.0], first=100) == []


def test_an_anomaly_rule_goes_through_bytes_mid_warm_up() -> None:
    values = vibrating(200, seed=7)
    values[120] = -20.0
    compiled = rule({MAJOR: anomaly()}, ClearCondition(unmet_for_seconds=5))
    device, resumed = Device(compiled), Device(compiled)
    assert vibrate(device, values[:15]) == vibrate(resumed, values[:15]) == []

    data = resumed.state.to_bytes()
    resumed.state = DeviceState.from_bytes(data)

    assert resumed.state == device.state
    assert resumed.state.to_bytes() == data
    after = vibrate(device, values[15:], first=15)
    assert [t.kind for t in after] == [TransitionKind.RAISED, TransitionKind.CLEARED]
    assert vibrate(resumed, values[15:], first=15) == after
    assert resumed.state.to_bytes() == device.state.to_bytes()


def test_an_active_anomaly_alarm_goes_through_bytes_with_its_verdict() -> None:
    values = vibrating(100)
    values[80] = 30.0
    device = Device(rule({MAJOR: anomaly(), CRITICAL: simple(above("temp", 90))}))
    [raising] = vibrate(device, values[:82])

    device.state = DeviceState.from_bytes(device.state.to_bytes())

    assert device.read(82, temp=95)[0].severity is CRITICAL
    # Back to the anomaly, still met: its verdict again.
    assert device.read(83, temp=50) == [
        Transition(
            RULE,
            TransitionKind.SEVERITY_CHANGED,
            MAJOR,
            CRITICAL,
            at(83),
            "alarm-1",
            {"temp": 50, **raising.reading},
        )
    ]


def test_a_state_stored_before_anomaly_triggers_loads() -> None:
    # A tracker of four fields, as every state stored before held.
    stored = orjson.dumps(
        {
            "s": at(5),
            "v": {"temp": 95.0},
            "t": {"temp": at(5)},
            "r": {RULE: [1, {"4": [True, None, 0, None]}, None, 4, "alarm-1", False]},
        }
    )
    state = DeviceState.from_bytes(stored)
    assert state.rules[RULE].trackers == {int(CRITICAL): TriggerTracker(met=True)}
    assert state.to_bytes() == stored


# --- state as bytes -------------------------------------------------------------------


def test_the_state_goes_through_bytes_exactly() -> None:
    duration = Trigger(TriggerKind.DURATION, when(above("temp", 90)), seconds=60)
    compiled = rule(
        {CRITICAL: simple(above("rpm", 1000)), MAJOR: duration}, ClearCondition(unmet_for_seconds=30)
    )
    device = Device(compiled)
    assert device.read(0, temp=95.0, rpm=1200, on=True, mode="cutting ✓", drift=-0.0) == [
        raised(CRITICAL, 0, temp=95.0, rpm=1200)
    ]
    assert device.read(1, rpm=900) == []
    # The state of a rule since deleted, which the caller has not dropped yet.
    removed = DeviceState.from_bytes(device.state.to_bytes()).rules[RULE]
    device.state.rules["removed"] = removed
    data = device.state.to_bytes()
    restored = DeviceState.from_bytes(data)
    assert restored == device.state
    assert restored.to_bytes() == data
    assert [type(restored.values[c]) for c in ("temp", "rpm", "on", "mode")] == [float, int, bool, str]
    assert str(restored.values["drift"]) == "-0.0"
    assert type(restored.rules[RULE].severity) is Severity
    resumed = Device(compiled)
    resumed.state, resumed.alarms = restored, device.alarms
    for replay in (device, resumed):
        assert replay.read(30, rpm=900) == []
        assert replay.read(31, temp=96) == [cleared(CRITICAL, 31, "alarm-1", temp=96, rpm=900)]
        # The progress towards the duration went through bytes too.
        assert replay.read(60, temp=97) == [raised(MAJOR, 60, temp=97, rpm=900)]
    assert resumed.state == device.state
    assert resumed.state.rules["removed"] == removed
