"""An alarm rule as the rules page's form edits it: a name, labels (`key=value` lines), up to
four create conditions of one predicate each (a severity, a channel compared with a value or
a range, at once, for a time or for a number of readings in a row) and how long unmet before
it clears. Rules beyond that (several predicates, groups, attributes as thresholds, clear
conditions, NO_DATA and ANOMALY triggers) are edited through the API; the page shows them
without a form. The values of the form stay strings, as entered, so that a refused form
comes back as it was sent."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from gantry.v1 import analytics_pb2, registry_pb2

from services.console.people.refusals import Refusal
from services.console.plant_values import SEVERITIES, severity_name, severity_of

ROWS = len(SEVERITIES)
OPERATORS = ("gt", "ge", "lt", "le", "eq", "ne", "inside", "outside")
KINDS = ("simple", "duration", "repeating")
ROW_FIELDS = ("severity", "channel", "operator", "value", "upper", "kind", "seconds", "count")
# The fields of a form: its own, each row's, and the CSRF token and the version read.
FORM_FIELDS = 5 + ROWS * len(ROW_FIELDS)
# The operand kind a channel's readings are compared with.
_OPERAND_OF = {
    registry_pb2.VALUE_TYPE_FLOAT: "number",
    registry_pb2.VALUE_TYPE_INT: "number",
    registry_pb2.VALUE_TYPE_BOOL: "flag",
    registry_pb2.VALUE_TYPE_STRING: "text",
    registry_pb2.VALUE_TYPE_ENUM: "text",
}
_RANGES = ("inside", "outside")
# A backend's name of a row's field: `rule.create.2.trigger.condition.predicates.0.value`.
_ROW_PATH = re.compile(r"^rule\.create\.(\d+)(?:\.(.*))?$")
_ROW_PARTS = {
    "severity": "severity",
    "trigger.kind": "kind",
    "trigger.seconds": "seconds",
    "trigger.count": "count",
    "trigger.condition.predicates.0.channel": "channel",
    "trigger.condition.predicates.0.operator": "operator",
    "trigger.condition.predicates.0.value": "value",
    "trigger.condition.predicates.0.upper": "upper",
}


@dataclass(frozen=True)
class RuleForm:
    name: str = ""
    labels: str = ""
    clear_after: str = "0"
    rows: tuple[dict[str, str], ...] = field(default_factory=lambda: tuple(_empty_row() for _ in range(ROWS)))


def _empty_row() -> dict[str, str]:
    return {**dict.fromkeys(ROW_FIELDS, ""), "operator": "gt", "kind": "simple"}


def form_of(rule: analytics_pb2.AlarmRule) -> RuleForm | None:
    """The rule in the form's terms; None when the form cannot hold it."""
    if rule.clear.HasField("trigger") or len(rule.create) > ROWS:
        return None
    rows = [_row_of(condition) for condition in rule.create]
    if any(row is None for row in rows):
        return None
    filled = tuple(row for row in rows if row is not None)
    return RuleForm(
        name=rule.name,
        labels="\n".join(f"{key}={value}" for key, value in sorted(rule.labels.items())),
        clear_after=str(rule.clear.unmet_for_seconds),
        rows=filled + tuple(_empty_row() for _ in range(ROWS - len(filled))),
    )


def _row_of(condition: analytics_pb2.CreateCondition) -> dict[str, str] | None:
    trigger = condition.trigger
    kind = analytics_pb2.TriggerKind.Name(trigger.kind).removeprefix("TRIGGER_KIND_").lower()
    predicates = trigger.condition.predicates
    if kind not in KINDS or trigger.condition.groups or len(predicates) != 1:
        return None
    predicate = predicates[0]
    value, upper = _text_of(predicate.value), _text_of(predicate.upper)
    if value is None or upper is None:
        return None
    return {
        "severity": severity_name(condition.severity),
        "channel": predicate.channel,
        "operator": analytics_pb2.Operator.Name(predicate.operator).removeprefix("OPERATOR_").lower(),
        "value": value,
        "upper": upper,
        "kind": kind,
        "seconds": str(trigger.seconds) if trigger.seconds else "",
        "count": str(trigger.count) if trigger.count else "",
    }


def _text_of(operand: analytics_pb2.Operand) -> str | None:
    """An operand as the form shows it; None for a device's attribute, which it cannot hold."""
    kind = operand.WhichOneof("kind")
    if kind is None:
        return ""
    if kind == "number":
        return f"{operand.number:g}"
    if kind == "flag":
        return "true" if operand.flag else "false"
    return operand.text if kind == "text" else None


def entered(form: Mapping[str, str]) -> RuleForm:
    """The form as it was sent."""
    rows = tuple(
        {name: form.get(f"create-{index}-{name}", "").strip() for name in ROW_FIELDS} for index in range(ROWS)
    )
    return RuleForm(
        form.get("name", "").strip(), form.get("labels", ""), form.get("clear_after", "").strip(), rows
    )


def rule_of(
    values: RuleForm, channels: Mapping[str, int]
) -> tuple[analytics_pb2.AlarmRule, list[int], Refusal | None]:
    """The rule a form defines, the rows it used (a row without a severity is unused), and
    what the form itself shows to be wrong, named as the backend would name it."""
    used = [index for index, row in enumerate(values.rows) if row["severity"]]
    wrong: set[str] = set()
    rule = analytics_pb2.AlarmRule(name=values.name, labels=_labels(values.labels, wrong))
    for position, index in enumerate(used):
        rule.create.append(_condition(values.rows[index], channels, f"rule.create.{position}", wrong))
    rule.clear.unmet_for_seconds = _whole(values.clear_after or "0", "rule.clear.unmet_for_seconds", wrong)
    return rule, used, Refusal("invalid", 400, fields=frozenset(wrong)) if wrong else None


def _labels(text: str, wrong: set[str]) -> dict[str, str]:
    labels = {}
    for line in text.splitlines():
        if line.strip():
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                wrong.add("rule.labels")
            labels[key.strip()] = value.strip()
    return labels


def _condition(
    row: dict[str, str], channels: Mapping[str, int], path: str, wrong: set[str]
) -> analytics_pb2.CreateCondition:
    severity = severity_of(row["severity"]) if row["severity"] in SEVERITIES else 0
    kind = row["kind"] if row["kind"] in KINDS else "simple"
    operator = row["operator"] if row["operator"] in OPERATORS else ""
    predicate = analytics_pb2.Predicate(
        channel=row["channel"],
        operator=analytics_pb2.Operator.Value(f"OPERATOR_{operator.upper()}") if operator else 0,
    )
    operand = _OPERAND_OF.get(channels.get(row["channel"], 0), "number")
    predicate_path = f"{path}.trigger.condition.predicates.0"
    predicate.value.CopyFrom(_operand(row["value"], operand, f"{predicate_path}.value", wrong))
    if operator in _RANGES:
        predicate.upper.CopyFrom(_operand(row["upper"], operand, f"{predicate_path}.upper", wrong))
    trigger = analytics_pb2.Trigger(
        kind=analytics_pb2.TriggerKind.Value(f"TRIGGER_KIND_{kind.upper()}"),
        condition=analytics_pb2.Condition(predicates=[predicate]),
    )
    if kind == "duration":
        trigger.seconds = _whole(row["seconds"], f"{path}.trigger.seconds", wrong)
    if kind == "repeating":
        trigger.count = _whole(row["count"], f"{path}.trigger.count", wrong)
    return analytics_pb2.CreateCondition(severity=severity, trigger=trigger)


def _operand(text: str, kind: str, path: str, wrong: set[str]) -> analytics_pb2.Operand:
    if kind == "text":
        return analytics_pb2.Operand(text=text)
    if kind == "flag":
        if text.lower() not in ("true", "false"):
            wrong.add(path)
        return analytics_pb2.Operand(flag=text.lower() == "true")
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        wrong.add(path)
        number = 0.0
    return analytics_pb2.Operand(number=number)


def _whole(text: str, path: str, wrong: set[str]) -> int:
    if not text.isdigit() or len(text) > 9:
        wrong.add(path)
        return 0
    return int(text)


def on_the_form(refusal: Refusal, used: list[int]) -> Refusal:
    """A refusal whose fields are the form's (`name`, `labels`, `clear_after`, `create`,
    `create-2-value`), the backend's positions among the rows used turned into the rows'."""
    named = set()
    for path in refusal.fields:
        found = _ROW_PATH.match(path)
        if found and int(found.group(1)) < len(used):
            part = next(
                (name for prefix, name in _ROW_PARTS.items() if (found.group(2) or "").startswith(prefix)), ""
            )
            named.add(
                f"create-{used[int(found.group(1))]}-{part}"
                if part
                else f"create-{used[int(found.group(1))]}"
            )
        elif path.startswith("rule.create"):
            named.add("create")
        else:
            named.add(path.removeprefix("rule.").split(".")[0].replace("clear", "clear_after"))
    return replace(refusal, fields=frozenset(named))
