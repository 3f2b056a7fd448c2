"""A rule's definition as plain JSON-ready data: what is stored, what the gateway's JSON
carries, and what the gRPC adapter converts its messages to.

`{"labels": {...}, "create": [{"severity": "critical", "trigger": TRIGGER}, ...],
  "clear": {"trigger": TRIGGER | None, "unmet_for_seconds": 0}}`, where
TRIGGER is `{"kind": "duration", "seconds": 60, "count": 0, "channel": "",
"condition": {"combinator": "all", "predicates": [{"channel": "t", "operator": "gt",
"value": {"number": 90}, "upper": None}], "groups": []}, "detector": None}` and an operand is
one of `{"number": 1.5}`, `{"text": "RUN"}`, `{"flag": true}`, `{"attribute": "max_temp"}`.
An ANOMALY trigger has no condition but a channel and a detector, each of whose fields is
optional: `{"threshold": 4.5, "warmup": 150, "stuck_readings": 60, "kinds": ["spike",
"level_shift", "stuck"]}` (no kinds, or none listed: all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from services.analytics.domain.anomalies import AnomalyKind, DetectorSettings
from services.analytics.domain.rules import (
    ClearCondition,
    Combinator,
    Condition,
    Detector,
    Operand,
    Operator,
    Predicate,
    Severity,
    Trigger,
    TriggerKind,
)

CONSTANT_KINDS = ("number", "text", "flag")
# The detector's settings a rule may set; the others keep DetectorSettings' defaults.
DETECTOR_SETTINGS = ("threshold", "warmup", "stuck_readings")


def operand_from(data: Mapping[str, Any]) -> Operand:
    if "attribute" in data:
        return Operand(attribute=data["attribute"])
    kind = next(k for k in CONSTANT_KINDS if k in data)
    value = data[kind]
    return Operand(constant=float(value) if kind == "number" else value)


def operand_data(operand: Operand) -> dict[str, Any]:
    if operand.attribute:
        return {"attribute": operand.attribute}
    value = operand.constant
    kind = "flag" if isinstance(value, bool) else "text" if isinstance(value, str) else "number"
    return {kind: value}


def condition_from(data: Mapping[str, Any]) -> Condition:
    return Condition(
        Combinator(data.get("combinator", "all")),
        tuple(
            Predicate(
                p["channel"],
                Operator(p["operator"]),
                operand_from(p["value"]),
                operand_from(p["upper"]) if p.get("upper") else None,
            )
            for p in data.get("predicates", ())
        ),
        tuple(condition_from(group) for group in data.get("groups", ())),
    )


def condition_data(condition: Condition) -> dict[str, Any]:
    return {
        "combinator": condition.combinator.value,
        "predicates": [
            {
                "channel": p.channel,
                "operator": p.operator.value,
                "value": operand_data(p.value),
                "upper": operand_data(p.upper) if p.upper else None,
            }
            for p in condition.predicates
        ],
        "groups": [condition_data(group) for group in condition.groups],
    }


def detector_settings(data: Mapping[str, Any]) -> DetectorSettings:
    """The settings `data` gives, the defaults for the others; ValueError naming the field
    out of range."""
    return replace(DetectorSettings(), **{name: data[name] for name in DETECTOR_SETTINGS if name in data})


def detector_from(data: Mapping[str, Any]) -> Detector:
    kinds = data.get("kinds")
    return Detector(
        detector_settings(data),
        frozenset(AnomalyKind(kind) for kind in kinds) if kinds else frozenset(AnomalyKind),
    )


def detector_data(detector: Detector) -> dict[str, Any]:
    settings = detector.settings
    return {
        **{name: getattr(settings, name) for name in DETECTOR_SETTINGS},
        # In the enum's order, so that a definition reads back the same.
        "kinds": [kind.value for kind in AnomalyKind if kind in detector.kinds],
    }


def trigger_from(data: Mapping[str, Any]) -> Trigger:
    kind = TriggerKind(data["kind"])
    condition = data.get("condition")
    return Trigger(
        kind,
        condition_from(condition) if condition else None,
        data.get("seconds", 0),
        data.get("count", 0),
        data.get("channel", ""),
        detector_from(data.get("detector") or {}) if kind is TriggerKind.ANOMALY else None,
    )


def trigger_data(trigger: Trigger) -> dict[str, Any]:
    return {
        "kind": trigger.kind.value,
        "condition": condition_data(trigger.condition) if trigger.condition else None,
        "seconds": trigger.seconds,
        "count": trigger.count,
        "channel": trigger.channel,
        "detector": detector_data(trigger.detector) if trigger.detector else None,
    }


def create_from(data: list[Mapping[str, Any]]) -> dict[Severity, Trigger]:
    return {Severity[item["severity"].upper()]: trigger_from(item["trigger"]) for item in data}


def create_data(create: Mapping[Severity, Trigger]) -> list[dict[str, Any]]:
    return [
        {"severity": severity.name.lower(), "trigger": trigger_data(trigger)}
        for severity, trigger in sorted(create.items(), reverse=True)
    ]


def clear_from(data: Mapping[str, Any] | None) -> ClearCondition:
    data = data or {}
    trigger = data.get("trigger")
    return ClearCondition(trigger_from(trigger) if trigger else None, data.get("unmet_for_seconds", 0))


def clear_data(clear: ClearCondition) -> dict[str, Any]:
    return {
        "trigger": trigger_data(clear.trigger) if clear.trigger else None,
        "unmet_for_seconds": clear.unmet_for_seconds,
    }
