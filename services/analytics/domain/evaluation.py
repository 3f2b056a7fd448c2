"""Alarm rules evaluated on one device's readings: a pure state machine, without I/O.

The caller passes a device's samples (one timestamp, several channels) in timestamp
order with the rules watching the device, and gets back the alarms' transitions.

- A sample older than the newest one applied changes nothing; an empty one too. One
  at the same time is merged into the latest values and evaluated again.
- A trigger is evaluated on a sample naming one of its channels (a NO_DATA trigger of
  the whole device, on any sample), against the latest value of every channel; between
  evaluations it keeps its status. A rule is evaluated and decided on a sample naming
  one of its channels (any sample, with a NO_DATA trigger of the whole device), and on
  a tick if it has a NO_DATA trigger.
- SIMPLE holds while its condition does. DURATION holds once its condition has held on
  every evaluation for `seconds` of reading time; REPEATING once it has held on `count`
  evaluations in a row at distinct times. An evaluation where the condition fails
  starts both afresh. NO_DATA holds once the server's clock is `seconds` past the newest
  reading of its channel (of any channel, for the whole device), on a sample as on a
  tick; a channel never read is not silent yet.
- Ticks evaluate only NO_DATA triggers (besides a rule's first evaluation, below),
  against the server's clock; they do nothing to a device never read.
- The most severe met create trigger wins: it raises an alarm or changes the active
  alarm's severity, up or down. While none is met, an alarm clears when the clear
  trigger is met (in between it keeps its severity), or, without a clear trigger, once
  readings (not ticks) have met none for `unmet_for_seconds` of reading time.
- A cleared alarm is raised anew by the next evaluation meeting a create trigger. One a
  person cleared (`forget_alarm`) is raised anew only after an evaluation meeting none:
  a person's clear is not undone while the condition still holds.
- ANOMALY holds on an evaluation where the channel's detector (`anomalies.py`) gives a
  verdict on its reading, and no longer on the channel's next reading without one. The
  transition it decides carries the verdict's reading (a spike's is the one before) and
  the verdict under "anomaly".
- A new version of a rule, or a rule new to the device, starts afresh: its first
  evaluation evaluates every trigger on the latest values at the time of the newest
  reading, so that no status from another definition (or none) decides. Its active
  alarm stays. Rules not passed keep their state untouched.
"""

from __future__ import annotations

from collections.abc import KeysView, Mapping, Sequence
from typing import Any

from services.analytics.domain.rules import AlarmRule, Scalar, Severity, Trigger, TriggerKind
from services.analytics.domain.states import (
    CLEAR,
    DeviceState,
    RuleState,
    Transition,
    TransitionKind,
    TriggerTracker,
)
from services.analytics.domain.triggers import channels_of, step_of


class CompiledRule:
    """A rule ready to evaluate, its conditions compiled once. `channels`: every channel
    it reads, the clear trigger's and NO_DATA's included; `whole_device`: whether it has
    a NO_DATA trigger of the whole device, which every sample concerns."""

    __slots__ = (
        "_clear",
        "_create",
        "_no_data",
        "_only",
        "_reading_channels",
        "_triggers",
        "_unmet_for_ms",
        "channels",
        "has_no_data",
        "id",
        "rule",
        "version",
        "whole_device",
    )

    def __init__(self, rule: AlarmRule) -> None:
        self.rule = rule
        self.id = rule.id
        self.version = rule.version
        # Most severe first: the first met one decides.
        triggers = [
            (int(severity), trigger) for severity, trigger in sorted(rule.create.items(), reverse=True)
        ]
        if rule.clear.trigger is not None:
            triggers.append((CLEAR, rule.clear.trigger))
        self.channels: frozenset[str] = frozenset().union(*(channels_of(trigger) for _, trigger in triggers))
        no_data = [(key, trigger) for key, trigger in triggers if trigger.kind is TriggerKind.NO_DATA]
        self.has_no_data = bool(no_data)
        self.whole_device = any(not trigger.channel for _, trigger in no_data)
        steps = {key: step_of(trigger) for key, trigger in triggers}
        # (tracker key, gate, step); a sample evaluates a trigger if it names a channel
        # of its gate, or, gate None, whenever it evaluates the rule.
        self._triggers = tuple((key, self._gate(trigger), steps[key]) for key, trigger in triggers)
        self._create = tuple(entry for entry in self._triggers if entry[0] != CLEAR)
        self._clear = next((entry for entry in self._triggers if entry[0] == CLEAR), None)
        # The common rule, one create trigger that every sample it sees evaluates and no
        # clear trigger, as (tracker key, step): most of a sample's work is spent on these.
        only = self._create[0] if len(self._create) == 1 and self._clear is None else None
        self._only = (only[0], only[2]) if only is not None and only[1] is None else None
        # (tracker key, step, channel, window in ms)
        self._no_data = tuple(
            (key, steps[key], trigger.channel, trigger.seconds * 1000) for key, trigger in no_data
        )
        self._reading_channels = tuple(sorted(self.channels))
        self._unmet_for_ms = rule.clear.unmet_for_seconds * 1000

    def _gate(self, trigger: Trigger) -> frozenset[str] | None:
        # The common rule, whose triggers all read the same channels, tests a sample
        # once for all of them.
        if trigger.kind is TriggerKind.NO_DATA and not trigger.channel:
            return None
        channels = channels_of(trigger)
        return None if channels == self.channels and not self.whole_device else channels

    def applies_to(self, labels: Mapping[str, str]) -> bool:
        return self.rule.applies_to(labels)

    def _renew(self, device: DeviceState, attributes: Mapping[str, Any], now: int) -> RuleState:
        """A fresh state at this version, keeping the previous one's alarm, with every
        trigger evaluated on the latest values: statuses of another definition, or none,
        would decide on what the rule no longer says. So ANOMALY's detectors start their
        warm-up again: what they learnt was measured against other settings."""
        previous = device.rules.get(self.id)
        state = RuleState(self.version, {key: TriggerTracker() for key, _, _ in self._triggers})
        if previous is not None:
            state.severity = previous.severity
            state.alarm_id = previous.alarm_id
            state.awaiting_unmet = previous.awaiting_unmet
        for key, _, step in self._triggers:
            step(state.trackers[key], device, attributes, device.seen_ts, now)
        device.rules[self.id] = state
        return state

    def _top(self, trackers: dict[int, TriggerTracker]) -> int | None:
        """The severity of the most severe met create trigger."""
        return next((key for key, _, _ in self._create if trackers[key].met), None)

    def _apply_sample(
        self,
        device: DeviceState,
        attributes: Mapping[str, Any],
        channels: KeysView[str],
        ts: int,
        now: int,
    ) -> Transition | None:
        state = device.rules.get(self.id)
        if state is None or state.rule_version != self.version:
            state = self._renew(device, attributes, now)
            return self._decide(state, self._top(state.trackers), device.values, ts, by_tick=False)
        trackers = state.trackers
        only = self._only
        if only is not None:
            tracker = trackers[only[0]]
            only[1](tracker, device, attributes, ts, now)
            top = only[0] if tracker.met else None
        else:
            top = self._step_all(trackers, device, attributes, channels, ts, now)
        # Most readings change nothing: spare them the call.
        if top == state.severity and state.unmet_since is None and not state.awaiting_unmet:
            return None
        return self._decide(state, top, device.values, ts, by_tick=False)

    def _step_all(
        self,
        trackers: dict[int, TriggerTracker],
        device: DeviceState,
        attributes: Mapping[str, Any],
        channels: KeysView[str],
        ts: int,
        now: int,
    ) -> int | None:
        """Evaluates the triggers the sample concerns; the severity of the most severe met
        create trigger."""
        top = None
        for key, gate, step in self._create:
            tracker = trackers[key]
            if gate is None or not channels.isdisjoint(gate):
                step(tracker, device, attributes, ts, now)
            if top is None and tracker.met:
                top = key
        clear = self._clear
        if clear is not None and (clear[1] is None or not channels.isdisjoint(clear[1])):
            clear[2](trackers[CLEAR], device, attributes, ts, now)
        return top

    def _apply_tick(self, device: DeviceState, attributes: Mapping[str, Any], now: int) -> Transition | None:
        state = device.rules.get(self.id)
        if state is None or state.rule_version != self.version:
            state = self._renew(device, attributes, now)
        else:
            for key, step, _, _ in self._no_data:
                step(state.trackers[key], device, attributes, now, now)
        return self._decide(state, self._top(state.trackers), device.values, now, by_tick=True)

    def _deadline(self, device: DeviceState) -> int | None:
        """The earliest server time at which one of its NO_DATA triggers now unmet is met."""
        state = device.rules.get(self.id)
        if state is None or state.rule_version != self.version:
            # Its first evaluation at this version may decide anything.
            return device.seen_ts
        deadlines = []
        for key, _, channel, window_ms in self._no_data:
            last = device.last_reading(channel)
            if last is not None and not state.trackers[key].met:
                deadlines.append(last + window_ms)
        return min(deadlines, default=None)

    def _decide(
        self, state: RuleState, top: int | None, values: Mapping[str, Scalar], ts: int, by_tick: bool
    ) -> Transition | None:
        severity = state.severity
        if top is not None:
            state.unmet_since = None
            verdict = self._verdict(state, top)
            if severity is None:
                if state.awaiting_unmet:
                    return None
                state.severity = Severity(top)
                return self._transition(TransitionKind.RAISED, state.severity, None, ts, "", values, verdict)
            if top == severity:
                return None
            state.severity = Severity(top)
            return self._transition(
                TransitionKind.SEVERITY_CHANGED, state.severity, severity, ts, state.alarm_id, values, verdict
            )
        if severity is None:
            state.awaiting_unmet = False
            return None
        if not self._clears(state, ts, by_tick):
            return None
        alarm_id = state.alarm_id
        state.severity = None
        state.alarm_id = ""
        state.unmet_since = None
        return self._transition(TransitionKind.CLEARED, severity, severity, ts, alarm_id, values)

    def _clears(self, state: RuleState, ts: int, by_tick: bool) -> bool:
        """Whether an active alarm whose create triggers are all unmet clears now."""
        if self._clear is not None:
            return state.trackers[CLEAR].met
        # Readings' time measures how long no create trigger has been met; ticks' not.
        if by_tick:
            return False
        if state.unmet_since is None:
            state.unmet_since = ts
        return ts - state.unmet_since >= self._unmet_for_ms

    def _transition(
        self,
        kind: TransitionKind,
        severity: Severity,
        previous: Severity | None,
        ts: int,
        alarm_id: str,
        values: Mapping[str, Scalar],
        verdict: Mapping[str, Any] | None = None,
    ) -> Transition:
        reading: dict[str, Any] = {
            channel: values[channel] for channel in self._reading_channels if channel in values
        }
        reading["ts"] = ts
        if verdict is not None:
            reading.update(verdict)
        return Transition(self.id, kind, severity, previous, ts, alarm_id, reading)

    def _verdict(self, state: RuleState, top: int) -> dict[str, Any] | None:
        """What the deciding trigger's anomaly adds to the reading, if it is an ANOMALY
        trigger: the anomalous reading (for a spike, the one before the latest) and the
        verdict on it."""
        anomaly = state.trackers[top].anomaly
        if anomaly is None:
            return None
        channel = self.rule.create[Severity(top)].channel
        verdict = {
            "kind": anomaly.kind.value,
            "score": anomaly.score,
            "low": anomaly.low,
            "high": anomaly.high,
        }
        return {channel: anomaly.value, "ts": anomaly.ts_ms, "anomaly": verdict}


def apply_reading(
    device: DeviceState,
    rules: Sequence[CompiledRule],
    attributes: Mapping[str, Any],
    ts_ms: int,
    values: Mapping[str, Scalar],
    now_ms: int,
) -> list[Transition]:
    """Applies one sample of the device (`values` read at `ts_ms`) at the server's time
    `now_ms` to `rules`: those watching the device (`CompiledRule.applies_to`)."""
    if ts_ms < device.seen_ts or not values:
        return []
    device.values.update(values)
    last_ts = device.last_ts
    for channel in values:
        last_ts[channel] = ts_ms
    device.seen_ts = ts_ms
    channels = values.keys()
    transitions = []
    for rule in rules:
        # A rule the sample does not concern is left as it is, its version included.
        if rule.whole_device or not channels.isdisjoint(rule.channels):
            transition = rule._apply_sample(device, attributes, channels, ts_ms, now_ms)
            if transition is not None:
                transitions.append(transition)
    return transitions


def apply_tick(
    device: DeviceState, rules: Sequence[CompiledRule], attributes: Mapping[str, Any], now_ms: int
) -> list[Transition]:
    """Evaluates the NO_DATA triggers of `rules`, those watching the device, at the
    server's time `now_ms`."""
    if device.seen_ts < 0:
        return []
    transitions = []
    for rule in rules:
        if rule.has_no_data:
            transition = rule._apply_tick(device, attributes, now_ms)
            if transition is not None:
                transitions.append(transition)
    return transitions


def forget_alarm(device: DeviceState, rule_id: str, alarm_id: str) -> bool:
    """Drops the rule's active alarm if it is `alarm_id`, which a person cleared; whether
    it was. The rule raises a new alarm once its create triggers have all been unmet: at
    once if none is met as the person clears it, so that what follows never depends on
    when the next evaluation comes."""
    state = device.rules.get(rule_id)
    if state is None or state.severity is None or state.alarm_id != alarm_id:
        return False
    state.severity = None
    state.alarm_id = ""
    state.unmet_since = None
    state.awaiting_unmet = any(tracker.met for key, tracker in state.trackers.items() if key != CLEAR)
    return True


def next_deadline(device: DeviceState, rules: Sequence[CompiledRule]) -> int | None:
    """The earliest server time at which a tick could change something for the device;
    None when none could before its next reading."""
    if device.seen_ts < 0:
        return None
    deadlines = [at for rule in rules if rule.has_no_data if (at := rule._deadline(device)) is not None]
    return min(deadlines, default=None)
