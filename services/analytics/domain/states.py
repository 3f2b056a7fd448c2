"""The evaluator's state of a device and what it reports: latest values, each rule's
trigger trackers and active alarm, and the transitions of alarms; stored as compact
orjson bytes between flushes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from services.analytics.domain.anomalies import Anomaly, AnomalyKind, ChannelDetector, DetectorSettings
from services.analytics.domain.rules import Scalar, Severity

# The key of the clear trigger's tracker among those of the create triggers' severities.
CLEAR = 0


class TransitionKind(StrEnum):
    RAISED = "raised"
    SEVERITY_CHANGED = "severity_changed"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Transition:
    rule_id: str
    kind: TransitionKind
    # The new severity; for CLEARED, the severity the alarm had.
    severity: Severity
    # The severity before the transition: None when RAISED.
    previous: Severity | None
    # The time of the reading, or the server's clock for a tick.
    ts_ms: int
    # The active alarm's id, as the caller set it; "" when RAISED.
    alarm_id: str
    # The latest values of the rule's channels, and "ts": `ts_ms`; when an ANOMALY trigger
    # decides, its verdict's reading and time, and the verdict under "anomaly".
    reading: dict[str, Any]


@dataclass(slots=True)
class TriggerTracker:
    """One trigger's status as last evaluated, and its progress towards DURATION
    (`since_ts`) or REPEATING (`count`, and the time last counted). ANOMALY: the channel's
    `detector`, and while met, the `anomaly` it found."""

    met: bool = False
    since_ts: int | None = None
    count: int = 0
    counted_ts: int | None = None
    # Stored without its settings, which the rule holds: one restored from bytes has the
    # defaults until the ANOMALY step gives it the rule's.
    detector: ChannelDetector | None = None
    anomaly: Anomaly | None = None


@dataclass(slots=True)
class RuleState:
    """One rule's progress on one device, and the alarm it holds active."""

    rule_version: int
    # By severity, and CLEAR for the clear trigger.
    trackers: dict[int, TriggerTracker]
    unmet_since: int | None = None
    severity: Severity | None = None
    # Set by the caller once it has stored the alarm a RAISED transition announced.
    alarm_id: str = ""
    # A person cleared the alarm: raise again only after no create trigger is met.
    awaiting_unmet: bool = False


@dataclass(slots=True)
class DeviceState:
    """The evaluator's state of one device. `values` and `last_ts` keep every channel
    read, not only those of today's rules: a rule created later finds them."""

    # The time of the newest sample applied; -1 before any.
    seen_ts: int = -1
    values: dict[str, Scalar] = field(default_factory=dict)
    last_ts: dict[str, int] = field(default_factory=dict)
    rules: dict[str, RuleState] = field(default_factory=dict)

    def last_reading(self, channel: str) -> int | None:
        """The time of the channel's newest reading; of the device's, for channel ""."""
        return self.last_ts.get(channel) if channel else self.seen_ts

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "s": self.seen_ts,
                "v": self.values,
                "t": self.last_ts,
                "r": {rule_id: _rule_state_to_json(state) for rule_id, state in self.rules.items()},
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> DeviceState:
        loaded = orjson.loads(data)
        return cls(
            seen_ts=loaded["s"],
            values=loaded["v"],
            last_ts=loaded["t"],
            rules={rule_id: _rule_state_from_json(state) for rule_id, state in loaded["r"].items()},
        )


def _rule_state_to_json(state: RuleState) -> list[Any]:
    trackers = {str(key): _tracker_to_json(tracker) for key, tracker in state.trackers.items()}
    return [
        state.rule_version,
        trackers,
        state.unmet_since,
        state.severity,
        state.alarm_id,
        state.awaiting_unmet,
    ]


def _rule_state_from_json(data: list[Any]) -> RuleState:
    version, trackers, unmet_since, severity, alarm_id, awaiting_unmet = data
    return RuleState(
        rule_version=version,
        trackers={int(key): _tracker_from_json(fields) for key, fields in trackers.items()},
        unmet_since=unmet_since,
        severity=None if severity is None else Severity(severity),
        alarm_id=alarm_id,
        awaiting_unmet=awaiting_unmet,
    )


def _tracker_to_json(tracker: TriggerTracker) -> list[Any]:
    """Four fields; two more, the detector and its anomaly, for an ANOMALY trigger."""
    fields = [tracker.met, tracker.since_ts, tracker.count, tracker.counted_ts]
    if tracker.detector is not None:
        fields += [tracker.detector.state(), _anomaly_to_json(tracker.anomaly)]
    return fields


def _tracker_from_json(fields: list[Any]) -> TriggerTracker:
    # States stored before ANOMALY triggers existed have four fields.
    met, since_ts, count, counted_ts, *anomalous = fields
    tracker = TriggerTracker(met, since_ts, count, counted_ts)
    if anomalous:
        detector, anomaly = anomalous
        tracker.detector = ChannelDetector.restored(detector, DetectorSettings())
        tracker.anomaly = None if anomaly is None else Anomaly(AnomalyKind(anomaly[0]), *anomaly[1:])
    return tracker


def _anomaly_to_json(anomaly: Anomaly | None) -> list[Any] | None:
    if anomaly is None:
        return None
    return [anomaly.kind.value, anomaly.ts_ms, anomaly.value, anomaly.score, anomaly.low, anomaly.high]
