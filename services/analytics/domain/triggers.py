"""How each kind of trigger updates its tracker on an evaluation (see `evaluation.py`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.analytics.domain.anomalies import ChannelDetector
from services.analytics.domain.conditions import Test, compile_condition
from services.analytics.domain.rules import Condition, Detector, Trigger, TriggerKind
from services.analytics.domain.states import DeviceState, TriggerTracker

# Updates a trigger's tracker: (tracker, device, attributes, reading time, server time).
Step = Callable[[TriggerTracker, DeviceState, Mapping[str, Any], int, int], None]


def _simple(test: Test) -> Step:
    def step(
        tracker: TriggerTracker, device: DeviceState, attributes: Mapping[str, Any], ts: int, now: int
    ) -> None:
        tracker.met = test(device.values, attributes)

    return step


def _duration(test: Test, window_ms: int) -> Step:
    def step(
        tracker: TriggerTracker, device: DeviceState, attributes: Mapping[str, Any], ts: int, now: int
    ) -> None:
        if test(device.values, attributes):
            if tracker.since_ts is None:
                tracker.since_ts = ts
            tracker.met = ts - tracker.since_ts >= window_ms
        else:
            tracker.since_ts = None
            tracker.met = False

    return step


def _repeating(test: Test, count: int) -> Step:
    def step(
        tracker: TriggerTracker, device: DeviceState, attributes: Mapping[str, Any], ts: int, now: int
    ) -> None:
        if test(device.values, attributes):
            # A sample merged at a time already counted is the same reading, not another.
            if tracker.counted_ts != ts:
                tracker.count += 1
                tracker.counted_ts = ts
            tracker.met = tracker.count >= count
        else:
            tracker.count = 0
            tracker.counted_ts = None
            tracker.met = False

    return step


def _no_data(channel: str, window_ms: int) -> Step:
    def step(
        tracker: TriggerTracker, device: DeviceState, attributes: Mapping[str, Any], ts: int, now: int
    ) -> None:
        last = device.last_reading(channel)
        tracker.met = last is not None and now - last >= window_ms

    return step


def _anomaly(channel: str, detector: Detector) -> Step:
    settings = detector.settings
    kinds = detector.kinds

    def step(
        tracker: TriggerTracker, device: DeviceState, attributes: Mapping[str, Any], ts: int, now: int
    ) -> None:
        # Only a reading of the channel at `ts` is news to the detector: a rule renewed on a
        # sample of other channels would feed it the channel's old value again.
        if device.last_ts.get(channel) != ts:
            return
        value = device.values[channel]
        # A device on an older version of its profile may read the channel as text.
        if not isinstance(value, (int, float)):
            return
        found = tracker.detector
        if found is None:
            found = tracker.detector = ChannelDetector(settings)
        elif ts <= found.seen_ts:
            # A sample merged at a time already learnt is the same reading, not another.
            return
        else:
            found.settings = settings
        anomaly = found.update(ts, value)
        if anomaly is not None and anomaly.kind not in kinds:
            anomaly = None
        tracker.anomaly = anomaly
        tracker.met = anomaly is not None

    return step


def step_of(trigger: Trigger) -> Step:
    if trigger.kind is TriggerKind.NO_DATA:
        return _no_data(trigger.channel, trigger.seconds * 1000)
    if trigger.kind is TriggerKind.ANOMALY:
        return _anomaly(trigger.channel, trigger.detector or Detector())
    test = compile_condition(trigger.condition or Condition())
    if trigger.kind is TriggerKind.DURATION:
        return _duration(test, trigger.seconds * 1000)
    if trigger.kind is TriggerKind.REPEATING:
        return _repeating(test, trigger.count)
    return _simple(test)


def channels_of(trigger: Trigger) -> frozenset[str]:
    if trigger.kind in (TriggerKind.NO_DATA, TriggerKind.ANOMALY):
        return frozenset({trigger.channel} if trigger.channel else ())
    return (trigger.condition or Condition()).channels()
