"""Random rules and random histories of one device's samples, redeliveries, ticks,
people clearing alarms and rules changing: the evaluator answers every step with the
transitions a plain model recomputing from the whole history gives, whether or not its
state went through bytes in between, and a tick before `next_deadline` changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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
    Operand,
    Operator,
    Predicate,
    Scalar,
    Severity,
    Trigger,
    TriggerKind,
)
from services.analytics.domain.states import DeviceState, Transition
from tests.support.alarm_reference import ReferenceDevice, RefTransition

START = 1_700_000_000_000
CREATED = datetime(2026, 12, 1, tzinfo=UTC)
CHANNELS = ["temp", "rpm", "on", "mode"]
ATTRIBUTE_NAMES = ["limit", "low", "high"]
MODEL_EXAMPLES = settings(max_examples=300, deadline=None)
EXAMPLES = settings(max_examples=150, deadline=None)

# Weighted by repetition, each a single draw: Hypothesis's cost grows with the number of
# choices it makes and strategies it builds, far more than with playing the history.
NUMBERS: list[Scalar] = [0, 5, 10, 0.0, 2.5, 5.0, 7.5, 10.0]
ODD: list[Scalar] = [5, 5.0, True, False, "idle"]
OWN: dict[str, list[Scalar]] = {
    "temp": [0.0, 2.5, 5.0, 7.5, 10.0],
    "rpm": [0, 5, 10],
    "on": [True, False],
    "mode": ["idle", "cutting"],
}
# A channel's values: its own type mostly, another at times (the evaluator takes any).
values_of = {channel: st.sampled_from(own * (20 // len(own)) + ODD) for channel, own in OWN.items()}
attribute_values = st.sampled_from([*NUMBERS * 3, True, "idle", None, [1]])
# What predicates on a channel compare with: constants of its type mostly, attributes.
operands_of = {
    channel: st.sampled_from(
        [Operand(constant=c) for c in (NUMBERS * 2 if channel in ("temp", "rpm") else own * 4)]
        + [Operand(constant=c) for c in ODD]
        + [Operand(attribute=name) for name in ATTRIBUTE_NAMES] * 2
    )
    for channel, own in OWN.items()
}
operators_of = {
    channel: st.sampled_from(
        list(Operator) if channel in ("temp", "rpm") else [Operator.EQ, Operator.NE] * 4 + list(Operator)
    )
    for channel in CHANNELS
}
channel_sets = st.sampled_from([[c for i, c in enumerate(CHANNELS) if mask >> i & 1] for mask in range(16)])
attribute_sets = st.sampled_from(
    [[n for i, n in enumerate(ATTRIBUTE_NAMES) if mask >> i & 1] for mask in range(8)]
)
predicate_counts = st.sampled_from([1, 1, 2])
# NO_DATA less often: once met it stays so until a sample of its channel.
CREATE_KINDS = [TriggerKind.SIMPLE, TriggerKind.DURATION, TriggerKind.REPEATING] * 2 + [TriggerKind.NO_DATA]
# Readings a little out of order at times, and at the same time as the last.
sample_steps = st.sampled_from([-1000, -500, 0, 500, 500, 1000, 1000, 1500, 2000, 3000])
nesting = st.sampled_from([False] * 5 + [True])


def draw_values(draw: st.DrawFn) -> dict[str, Any]:
    return {name: draw(values_of[name]) for name in draw(channel_sets)}


def draw_attributes(draw: st.DrawFn) -> dict[str, Any]:
    return {name: draw(attribute_values) for name in draw(attribute_sets)}


def draw_predicate(draw: st.DrawFn, channels: list[str]) -> Predicate:
    channel = channels[draw(st.integers(0, len(channels) - 1))]
    operator = draw(operators_of[channel])
    upper = draw(operands_of[channel]) if operator in (Operator.INSIDE, Operator.OUTSIDE) else None
    return Predicate(channel, operator, draw(operands_of[channel]), upper)


def draw_condition(draw: st.DrawFn, channels: list[str], nested: bool) -> Condition:
    predicates = [draw_predicate(draw, channels) for _ in range(draw(predicate_counts))]
    groups = [draw_condition(draw, channels, False)] if nested and draw(nesting) else []
    return Condition(draw(st.sampled_from(Combinator)), tuple(predicates), tuple(groups))


def draw_trigger(draw: st.DrawFn, channels: list[str], kinds: list[TriggerKind]) -> Trigger:
    kind = draw(st.sampled_from(kinds))
    if kind is TriggerKind.NO_DATA:
        channel = draw(st.sampled_from(["", *channels]))
        return Trigger(kind, seconds=draw(st.integers(1, 5)), channel=channel)
    condition = draw_condition(draw, channels, True)
    return Trigger(kind, condition, seconds=draw(st.integers(1, 4)), count=draw(st.integers(1, 3)))


def draw_rule(draw: st.DrawFn, rule_id: str, version: int) -> AlarmRule:
    channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=2, max_size=3, unique=True))
    severities = draw(st.lists(st.sampled_from(list(Severity)), min_size=1, max_size=4, unique=True))
    create = {severity: draw_trigger(draw, channels, CREATE_KINDS) for severity in severities}
    if draw(st.booleans()):
        clearing = [TriggerKind.SIMPLE, TriggerKind.DURATION, TriggerKind.REPEATING]
        clear = ClearCondition(trigger=draw_trigger(draw, channels, clearing))
    else:
        clear = ClearCondition(unmet_for_seconds=draw(st.integers(0, 4)))
    return AlarmRule(rule_id, "tenant", "profile", "rule", {}, create, clear, version, CREATED, CREATED)


@dataclass(frozen=True)
class Sample:
    step_ms: int
    values: dict[str, Any]
    delay_ms: int


@dataclass(frozen=True)
class Redeliver:
    back: int
    delay_ms: int


@dataclass(frozen=True)
class Tick:
    advance_ms: int


@dataclass(frozen=True)
class Forget:
    rule: int
    current: bool


@dataclass(frozen=True)
class Update:
    rule: int
    definition: AlarmRule


@dataclass(frozen=True)
class Toggle:
    rule: int


@dataclass(frozen=True)
class Attributes:
    attributes: dict[str, Any]


Step = Sample | Redeliver | Tick | Forget | Update | Toggle | Attributes


def draw_step(draw: st.DrawFn, rules: int) -> Step:
    # Samples most of the time, so that conditions hold long enough to raise and clear.
    choice = draw(st.integers(0, 19))
    if choice == 0:
        return Redeliver(draw(st.integers(1, 4)), draw(st.integers(0, 6)) * 500)
    if choice in (1, 2):
        # A clock may step back a little: it is the server's, not the device's.
        return Tick(draw(st.integers(-2, 12)) * 500)
    if choice == 3:
        return Forget(draw(st.integers(0, rules - 1)), draw(st.booleans()))
    if choice == 4:
        rule = draw(st.integers(0, rules - 1))
        return Update(rule, draw_rule(draw, f"rule-{rule}", 0))
    if choice == 5:
        return Toggle(draw(st.integers(0, rules - 1)))
    if choice == 6:
        return Attributes(draw_attributes(draw))
    return Sample(draw(sample_steps), draw_values(draw), draw(st.integers(-1, 8)) * 500)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[AlarmRule], list[Step]]:
    rules = [draw_rule(draw, f"rule-{i}", 1) for i in range(draw(st.integers(1, 3)))]
    steps = [draw_step(draw, len(rules)) for _ in range(draw(st.integers(20, 40)))]
    return rules, steps


def as_tuple(transition: Transition) -> RefTransition:
    return (
        transition.rule_id,
        transition.kind.value,
        int(transition.severity),
        None if transition.previous is None else int(transition.previous),
        transition.ts_ms,
        transition.alarm_id,
        transition.reading,
    )


class Run:
    """One history played on the evaluator, on a second evaluator whose state goes
    through bytes before the steps `restarts` picks, and, given one, on the model."""

    def __init__(self, rules: list[AlarmRule], restarts: list[bool], model: ReferenceDevice | None) -> None:
        self.rules = list(rules)
        self.passed = [True] * len(rules)
        self.compiled = [CompiledRule(rule) for rule in rules]
        self.device = DeviceState()
        self.resumed = DeviceState()
        self.model = model
        self.restarts = restarts
        self.attributes: dict[str, Any] = {}
        self.ts = START
        self.now = START
        self.history: list[tuple[int, dict[str, Any]]] = []
        self.alarms = 0

    def active_rules(self) -> tuple[list[AlarmRule], list[CompiledRule]]:
        kept = [i for i, passed in enumerate(self.passed) if passed]
        return [self.rules[i] for i in kept], [self.compiled[i] for i in kept]

    def play(self, number: int, step: Step) -> None:
        if self.restarts[number % len(self.restarts)]:
            self.resumed = DeviceState.from_bytes(self.resumed.to_bytes())
        rules, compiled = self.active_rules()
        model = self.model
        match step:
            case Sample(step_ms, values, delay_ms):
                # A step back is a late reading: the device's clock goes on from the newest.
                ts = self.ts + step_ms
                self.ts = max(self.ts, ts)
                self.now = max(self.now, ts + delay_ms)
                self.history.append((ts, values))
                now = self.now
                self.apply(
                    lambda d: apply_reading(d, compiled, self.attributes, ts, values, now),
                    model and (lambda: model.sample(rules, self.attributes, ts, values, now)),
                )
            case Redeliver(back, delay_ms) if self.history:
                ts, values = self.history[-min(back, len(self.history))]
                self.now += delay_ms
                now = self.now
                self.apply(
                    lambda d: apply_reading(d, compiled, self.attributes, ts, values, now),
                    model and (lambda: model.sample(rules, self.attributes, ts, values, now)),
                )
            case Tick(advance_ms):
                self.now += advance_ms
                now = self.now
                self.apply(
                    lambda d: apply_tick(d, compiled, self.attributes, now),
                    model and (lambda: model.tick(rules, self.attributes, now)),
                )
            case Forget(rule, current):
                self.forget(self.rules[rule].id, current)
            case Update(rule, definition):
                self.rules[rule] = replace(definition, version=self.rules[rule].version + 1)
                self.compiled[rule] = CompiledRule(self.rules[rule])
            case Toggle(rule):
                self.passed[rule] = not self.passed[rule]
            case Attributes(attributes):
                self.attributes = attributes

    def apply(self, evaluate: Callable[[DeviceState], list[Transition]], model: Any) -> None:
        transitions = evaluate(self.device)
        if model:
            assert [as_tuple(t) for t in transitions] == model()
        assert evaluate(self.resumed) == transitions
        for transition in transitions:
            if transition.kind == "raised":
                self.alarms += 1
                alarm_id = f"alarm-{self.alarms}"
                self.device.rules[transition.rule_id].alarm_id = alarm_id
                self.resumed.rules[transition.rule_id].alarm_id = alarm_id
                if self.model:
                    self.model.set_alarm_id(transition.rule_id, alarm_id)

    def forget(self, rule_id: str, current: bool) -> None:
        state = self.device.rules.get(rule_id)
        alarm_id = state.alarm_id if current and state else "alarm-stale"
        forgot = forget_alarm(self.device, rule_id, alarm_id)
        if self.model:
            assert forgot is self.model.forget(rule_id, alarm_id)
        assert forget_alarm(self.resumed, rule_id, alarm_id) is forgot


@MODEL_EXAMPLES
@given(histories(), st.lists(st.booleans(), min_size=1, max_size=5))
def test_the_evaluator_answers_as_the_model_restarted_or_not(
    history: tuple[list[AlarmRule], list[Step]], restarts: list[bool]
) -> None:
    rules, steps = history
    run = Run(rules, restarts, ReferenceDevice())
    for number, step in enumerate(steps):
        run.play(number, step)
    assert run.resumed == run.device


@EXAMPLES
@given(histories(), st.lists(st.booleans(), min_size=1, max_size=5))
def test_a_state_through_bytes_at_any_step_changes_nothing(
    history: tuple[list[AlarmRule], list[Step]], restarts: list[bool]
) -> None:
    rules, steps = history
    run = Run(rules, restarts, None)
    for number, step in enumerate(steps):
        data = run.device.to_bytes()
        assert DeviceState.from_bytes(data) == run.device
        assert DeviceState.from_bytes(data).to_bytes() == data
        run.play(number, step)
    assert run.resumed.to_bytes() == run.device.to_bytes()


@EXAMPLES
@given(histories(), st.integers(0, 5000))
def test_no_tick_before_the_deadline_changes_anything(
    history: tuple[list[AlarmRule], list[Step]], early_ms: int
) -> None:
    rules, steps = history
    run = Run(rules, [False], None)
    for step in steps:
        # Deadlines assume a clock that does not go back, and rules passed all along.
        if not isinstance(step, Toggle) and not (isinstance(step, Tick) and step.advance_ms < 0):
            run.play(0, step)
    _, compiled = run.active_rules()
    deadline = next_deadline(run.device, compiled)
    if deadline is None or deadline - early_ms <= run.now:
        return
    before = run.device.to_bytes()
    device = DeviceState.from_bytes(before)
    assert apply_tick(device, compiled, run.attributes, deadline - early_ms - 1) == []
    assert device.to_bytes() == before
    apply_tick(device, compiled, run.attributes, deadline)
    assert device.to_bytes() != before
