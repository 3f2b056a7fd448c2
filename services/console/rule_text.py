"""An alarm rule as plain values for the read-only list of a profile's rules; the template
puts them into words of the reader's language (`plant/_rule.html`). Channel names and
values are the tenant's own input, shown escaped there."""

from __future__ import annotations

from typing import Any

from gantry.v1 import analytics_pb2

from services.console.plant_values import severity_name

OPERATORS = {
    analytics_pb2.OPERATOR_EQ: "=",
    analytics_pb2.OPERATOR_NE: "≠",
    analytics_pb2.OPERATOR_GT: ">",
    analytics_pb2.OPERATOR_GE: "≥",
    analytics_pb2.OPERATOR_LT: "<",
    analytics_pb2.OPERATOR_LE: "≤",
    analytics_pb2.OPERATOR_INSIDE: "inside",
    analytics_pb2.OPERATOR_OUTSIDE: "outside",
}


def operand_view(operand: analytics_pb2.Operand) -> dict[str, str]:
    """{"value": text} or, for a threshold held by each device, {"attribute": name}."""
    kind = operand.WhichOneof("kind")
    if kind is None:
        return {"value": ""}
    value = getattr(operand, kind)
    if kind == "number":
        return {"value": f"{value:g}"}
    if kind == "flag":
        return {"value": "true" if value else "false"}
    if kind == "text":
        return {"value": f'"{value}"'}
    return {"attribute": str(value)}


def condition_view(condition: analytics_pb2.Condition) -> dict[str, Any]:
    return {
        "any": condition.combinator == analytics_pb2.COMBINATOR_ANY,
        "predicates": [
            {
                "channel": p.channel,
                "operator": OPERATORS.get(p.operator, "?"),
                "low": operand_view(p.value),
                "high": operand_view(p.upper),
            }
            for p in condition.predicates
        ],
        "groups": [condition_view(group) for group in condition.groups],
    }


def trigger_view(trigger: analytics_pb2.Trigger) -> dict[str, Any]:
    return {
        "kind": analytics_pb2.TriggerKind.Name(trigger.kind).removeprefix("TRIGGER_KIND_").lower(),
        "condition": condition_view(trigger.condition),
        "seconds": trigger.seconds,
        "count": trigger.count,
        "channel": trigger.channel,
    }


def rule_view(rule: analytics_pb2.AlarmRule) -> dict[str, Any]:
    clear = rule.clear
    return {
        "id": rule.id,
        "name": rule.name,
        "version": rule.version,
        "labels": sorted(rule.labels.items()),
        "create": [(severity_name(c.severity), trigger_view(c.trigger)) for c in rule.create],
        "clear": trigger_view(clear.trigger) if clear.HasField("trigger") else None,
        "clear_after_seconds": clear.unmet_for_seconds,
    }
