"""A plain model of alarm evaluation for property tests, sharing no code with analytics's.

It keeps every sample and tick it applied and, at each decision, recomputes the status
of every trigger from that history: DURATION by scanning back through the trigger's
evaluations, REPEATING by counting back, NO_DATA from the newest sample before it, and
how long an alarm has gone unmet from the rule's past decisions. Only the alarms
themselves are kept as state. Transitions are plain tuples:
(rule id, kind, severity, previous severity, time, alarm id, reading).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.analytics.domain.rules import AlarmRule, Combinator, Condition, Operator, Predicate, Trigger

RefTransition = tuple[str, str, int, int | None, int, str, dict[str, Any]]


@dataclass
class _Event:
    is_tick: bool
    now: int
    attributes: Mapping[str, Any]
    rules: dict[str, AlarmRule]
    ts: int = 0
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Alarm:
    severity: int | None = None
    alarm_id: str = ""
    # A person cleared it: no new alarm until a decision finds no create trigger met.
    awaiting_unmet: bool = False


@dataclass
class _Decision:
    index: int
    time: int
    top: int | None
    is_tick: bool


def _category(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return None


def _operand(operand: Any, attributes: Mapping[str, Any]) -> Any:
    if operand is None:
        return None
    if operand.attribute:
        return attributes.get(operand.attribute)
    return operand.constant


def _predicate_holds(predicate: Predicate, values: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    value = values.get(predicate.channel)
    first = _operand(predicate.value, attributes)
    if predicate.operator in (Operator.INSIDE, Operator.OUTSIDE):
        second = _operand(predicate.upper, attributes)
        if not all(_category(x) == "number" for x in (value, first, second)):
            return False
        if predicate.operator == Operator.INSIDE:
            return first <= value and value <= second
        return value < first or value > second
    kind = _category(value)
    if kind is None or kind != _category(first):
        return False
    if predicate.operator == Operator.EQ:
        return value == first
    if predicate.operator == Operator.NE:
        return value != first
    if kind != "number":
        return False
    if predicate.operator == Operator.GT:
        return value > first
    if predicate.operator == Operator.GE:
        return value >= first
    if predicate.operator == Operator.LT:
        return value < first
    return value <= first


def _condition_holds(condition: Condition, values: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    results = [_predicate_holds(p, values, attributes) for p in condition.predicates]
    results += [_condition_holds(g, values, attributes) for g in condition.groups]
    if condition.combinator == Combinator.ANY:
        return any(results)
    return all(results)


def _condition_channels(condition: Condition | None) -> set[str]:
    if condition is None:
        return set()
    found = {p.channel for p in condition.predicates}
    for group in condition.groups:
        found |= _condition_channels(group)
    return found


def _trigger_channels(trigger: Trigger) -> set[str]:
    if trigger.kind == "no_data":
        return {trigger.channel} if trigger.channel else set()
    return _condition_channels(trigger.condition)


def _rule_triggers(rule: AlarmRule) -> list[Trigger]:
    found = list(rule.create.values())
    if rule.clear.trigger is not None:
        found.append(rule.clear.trigger)
    return found


def _rule_channels(rule: AlarmRule) -> set[str]:
    found: set[str] = set()
    for trigger in _rule_triggers(rule):
        found |= _trigger_channels(trigger)
    return found


class ReferenceDevice:
    def __init__(self) -> None:
        self.events: list[_Event] = []
        self.alarms: dict[str, _Alarm] = {}
        # rule id -> (version, index of the first event that passed the rule at it)
        self.epochs: dict[str, tuple[int, int]] = {}
        self.decisions: dict[str, list[_Decision]] = {}

    # --- what callers do --------------------------------------------------------

    def sample(
        self,
        rules: Sequence[AlarmRule],
        attributes: Mapping[str, Any],
        ts: int,
        values: Mapping[str, Any],
        now: int,
    ) -> list[RefTransition]:
        samples = self._samples(len(self.events))
        if not values or (samples and ts < samples[-1].ts):
            return []
        event = _Event(False, now, dict(attributes), {r.id: r for r in rules}, ts, dict(values))
        return self._apply(event)

    def tick(
        self, rules: Sequence[AlarmRule], attributes: Mapping[str, Any], now: int
    ) -> list[RefTransition]:
        if not self._samples(len(self.events)):
            return []
        return self._apply(_Event(True, now, dict(attributes), {r.id: r for r in rules}))

    def set_alarm_id(self, rule_id: str, alarm_id: str) -> None:
        self.alarms[rule_id].alarm_id = alarm_id

    def forget(self, rule_id: str, alarm_id: str) -> bool:
        alarm = self.alarms.get(rule_id)
        if alarm is None or alarm.severity is None or alarm.alarm_id != alarm_id:
            return False
        decisions = self.decisions.get(rule_id, [])
        self.alarms[rule_id] = _Alarm(awaiting_unmet=bool(decisions) and decisions[-1].top is not None)
        return True

    def alarm_id(self, rule_id: str) -> str:
        alarm = self.alarms.get(rule_id)
        return "" if alarm is None else alarm.alarm_id

    # --- history ----------------------------------------------------------------

    def _samples(self, upto: int) -> list[_Event]:
        """The samples applied among the first `upto` events."""
        return [e for e in self.events[:upto] if not e.is_tick]

    def _values_at(self, index: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for sample in self._samples(index + 1):
            merged.update(sample.values)
        return merged

    def _last_reading(self, channel: str, index: int) -> int | None:
        times = [s.ts for s in self._samples(index + 1) if not channel or channel in s.values]
        return max(times) if times else None

    def _evaluates(self, rule: AlarmRule, trigger: Trigger, index: int) -> bool:
        event = self.events[index]
        if rule.id not in event.rules:
            return False
        if index == self._first_decision(rule):
            return True
        if trigger.kind == "no_data":
            return event.is_tick or not trigger.channel or trigger.channel in event.values
        return not event.is_tick and bool(_trigger_channels(trigger) & event.values.keys())

    def _decides(self, rule: AlarmRule, event: _Event) -> bool:
        if event.is_tick:
            return any(t.kind == "no_data" for t in _rule_triggers(rule))
        watches_all = any(t.kind == "no_data" and not t.channel for t in _rule_triggers(rule))
        return watches_all or bool(_rule_channels(rule) & event.values.keys())

    def _first_decision(self, rule: AlarmRule) -> int:
        """The index of the rule's first decision at its version: every trigger is
        evaluated there. That of the event being applied when none came before."""
        start = self.epochs[rule.id][1]
        earlier = [d.index for d in self.decisions.get(rule.id, []) if d.index >= start]
        return earlier[0] if earlier else len(self.events) - 1

    def _time_of(self, index: int) -> int:
        """The reading time an evaluation measures by: a tick's is the newest sample's."""
        return self._samples(index + 1)[-1].ts

    def _met_at(self, trigger: Trigger, index: int) -> bool:
        """Whether the trigger's own test passed on the event at `index`."""
        event = self.events[index]
        if trigger.kind == "no_data":
            last = self._last_reading(trigger.channel, index)
            return last is not None and event.now - last >= trigger.seconds * 1000
        return _condition_holds(trigger.condition or Condition(), self._values_at(index), event.attributes)

    def _status(self, rule: AlarmRule, trigger: Trigger, index: int) -> bool:
        start = self.epochs[rule.id][1]
        evaluations = [
            (self._time_of(j), self._met_at(trigger, j))
            for j in range(start, index + 1)
            if self._evaluates(rule, trigger, j)
        ]
        if not evaluations or not evaluations[-1][1]:
            return False
        run = []
        for ts, met in reversed(evaluations):
            if not met:
                break
            run.append(ts)
        if trigger.kind == "duration":
            return run[0] - run[-1] >= trigger.seconds * 1000
        if trigger.kind == "repeating":
            return len(set(run)) >= trigger.count
        return True

    def _unmet_since(self, rule: AlarmRule) -> int:
        """The time of the first decision by a reading, since the last that met a create
        trigger, in the rule's current version, that met none."""
        start = self.epochs[rule.id][1]
        since = None
        for decision in reversed(self.decisions[rule.id]):
            if decision.index < start or decision.top is not None:
                break
            if not decision.is_tick:
                since = decision.time
        assert since is not None
        return since

    # --- evaluation -------------------------------------------------------------

    def _apply(self, event: _Event) -> list[RefTransition]:
        self.events.append(event)
        index = len(self.events) - 1
        found = []
        for rule in event.rules.values():
            if self.epochs.get(rule.id, (None, 0))[0] != rule.version:
                self.epochs[rule.id] = (rule.version, index)
            if self._decides(rule, event):
                transition = self._decide(rule, index)
                if transition is not None:
                    found.append(transition)
        return found

    def _decide(self, rule: AlarmRule, index: int) -> RefTransition | None:
        event = self.events[index]
        time = event.now if event.is_tick else event.ts
        met = [int(s) for s, trigger in rule.create.items() if self._status(rule, trigger, index)]
        top = max(met) if met else None
        self.decisions.setdefault(rule.id, []).append(_Decision(index, time, top, event.is_tick))
        alarm = self.alarms.setdefault(rule.id, _Alarm())
        if top is not None:
            if alarm.severity is None and alarm.awaiting_unmet:
                return None
            if alarm.severity is None:
                alarm.severity = top
                return self._transition(rule, "raised", top, None, index, "")
            if alarm.severity != top:
                previous, alarm.severity = alarm.severity, top
                return self._transition(rule, "severity_changed", top, previous, index, alarm.alarm_id)
            return None
        if alarm.severity is None:
            alarm.awaiting_unmet = False
            return None
        if rule.clear.trigger is not None:
            clears = self._status(rule, rule.clear.trigger, index)
        elif event.is_tick:
            clears = False
        else:
            clears = time - self._unmet_since(rule) >= rule.clear.unmet_for_seconds * 1000
        if not clears:
            return None
        cleared = self.alarms.pop(rule.id)
        assert cleared.severity is not None
        return self._transition(rule, "cleared", cleared.severity, cleared.severity, index, cleared.alarm_id)

    def _transition(
        self, rule: AlarmRule, kind: str, severity: int, previous: int | None, index: int, alarm_id: str
    ) -> RefTransition:
        event = self.events[index]
        time = event.now if event.is_tick else event.ts
        values = self._values_at(index)
        reading = {channel: values[channel] for channel in _rule_channels(rule) if channel in values}
        reading["ts"] = time
        return (rule.id, kind, severity, previous, time, alarm_id, reading)
