"""A rule's definition as plain JSON-ready data: what is stored, what the gateway's JSON
carries, and what the gRPC adapter converts its messages to.

`{"labels": {...}, "create": [{"severity": "critical", "trigger": TRIGGER}, ...],
  "clear": {"trigger": TRIGGER | None, "unmet_for_seconds": 0}}`, where
TRIGGER is `{"kind": "duration", "seconds": 60, "count": 0, "channel": "",
"condition": {"combinator": "all", "predicates": [{"channel": "t", "operator": "gt",
"value": {"number": 90}, "upper": None}], "groups": []}}` and an operand is one of
`{"number": 1.5}`, `{"text": "RUN"}`, `{"flag": true}`, `{"attribute": "max_temp"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.analytics.domain.rules import (
    ClearCondition,
    Combinator,
    Condition,
    Operand,
    Operator,
    Predicate,
    Severity,
    Trigger,
    TriggerKind,
)

CONSTANT_KINDS = ("number", "text", "flag")


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


def trigger_from(data: Mapping[str, Any]) -> Trigger:
    condition = data.get("condition")
    return Trigger(
        TriggerKind(data["kind"]),
        condition_from(condition) if condition else None,
        data.get("seconds", 0),
        data.get("count", 0),
        data.get("channel", ""),
    )


def trigger_data(trigger: Trigger) -> dict[str, Any]:
    return {
        "kind": trigger.kind.value,
        "condition": condition_data(trigger.condition) if trigger.condition else None,
        "seconds": trigger.seconds,
        "count": trigger.count,
        "channel": trigger.channel,
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
