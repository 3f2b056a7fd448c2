"""Alarm rules: their definitions, conditions and triggers. Field names are those of
protos/gantry/v1/analytics.proto, so that analytics's field errors name the body's fields;
analytics checks what these schemas leave open (channels against the profile, operands
against the channels' types), and the bounds again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gantry.v1 import analytics_pb2 as pb
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from services.gateway.schemas import common
from services.gateway.schemas.common import PageQuery, ShortDict, ShortList, names
from services.kit.validation import text as printable

SEVERITIES = names(pb.Severity)
OPERATORS = names(pb.Operator)
COMBINATORS = names(pb.Combinator)
TRIGGER_KINDS = names(pb.TriggerKind)
ANOMALY_KINDS = names(pb.AnomalyKind)

# The contract's bounds (protos/gantry/v1/analytics.proto).
MAX_PREDICATES = 32
MAX_DEPTH = 4
# Each group holds a predicate, or a group holding one, at most MAX_DEPTH - 1 levels down.
MAX_GROUPS = MAX_PREDICATES * (MAX_DEPTH - 1)
MAX_SECONDS = 30 * 24 * 3600
MAX_COUNT = 100_000
MAX_LABELS = 16
MAX_DETECTOR_READINGS = 10_000
MAX_CHANNEL_LENGTH = 64
OPERAND_KINDS = ("number", "text", "flag", "attribute")

# Line breaks and tabs belong in a comment or a string's value; other control characters
# break the logs, exports and terminals that show them.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def readable(value: str) -> bool:
    if _UNPRINTABLE.search(value):
        raise ValidationError("must not contain control characters but line breaks and tabs")
    return True


def _channel(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=MAX_CHANNEL_LENGTH), **kwargs)


def _seconds(description: str) -> fields.Integer:
    return common.count(0, MAX_SECONDS, metadata={"description": description})


class Operand(Schema):
    """Exactly one kind; answers show the others as null."""

    number = fields.Float(allow_nan=False, allow_none=True, metadata={"description": "FLOAT and INT"})
    text = fields.String(
        allow_none=True,
        validate=[validate.Length(max=1024), readable],
        metadata={"description": "STRING, and ENUM (one of its allowed values)"},
    )
    flag = fields.Boolean(allow_none=True, metadata={"description": "BOOL"})
    attribute = printable(
        128,
        required=False,
        allow_none=True,
        metadata={"description": "The device's attribute of this name: a threshold per machine"},
    )


class Predicate(Schema):
    channel = _channel(required=True)
    operator = fields.String(
        required=True,
        validate=validate.OneOf(OPERATORS),
        metadata={"description": "BOOL, STRING and ENUM channels take eq and ne"},
    )
    value = fields.Nested(
        Operand, required=True, metadata={"description": "inside, outside: the lower bound"}
    )
    upper = fields.Nested(
        Operand, allow_none=True, metadata={"description": "inside and outside only: the upper bound"}
    )

    @validates_schema
    def _one_kind_each(self, data: dict[str, Any], **_: Any) -> None:
        mixed = {
            side: [f"give exactly one of {', '.join(OPERAND_KINDS)}"]
            for side in ("value", "upper")
            if data.get(side) is not None and sum(v is not None for v in data[side].values()) != 1
        }
        if mixed:
            raise ValidationError(mixed)


class Condition(Schema):
    """Predicates and nested groups, at most 4 deep and 32 predicates in all."""

    combinator = fields.String(
        allow_none=True,
        validate=validate.OneOf(COMBINATORS),
        metadata={"description": "all (the default, also when null) or any"},
    )
    predicates = ShortList(fields.Nested(Predicate), validate=validate.Length(max=MAX_PREDICATES))
    groups = ShortList(fields.Nested(lambda: Condition()), validate=validate.Length(max=MAX_PREDICATES))


class DetectorSettings(Schema):
    """How sensitive an anomaly trigger's detector is; null or absent fields take their
    defaults. A new version of the rule restarts every device's warm-up."""

    threshold = fields.Float(
        allow_nan=False,
        allow_none=True,
        metadata={
            "description": "Above 0: sigma from the level beyond which a spike lies, and the expected "
            "band's half-width. 4.5"
        },
    )
    warmup = common.count(
        1,
        MAX_DETECTOR_READINGS,
        allow_none=True,
        metadata={"description": "Readings learnt before the first verdict: 1 to 10,000. 150"},
    )
    stuck_readings = common.count(
        2,
        MAX_DETECTOR_READINGS,
        allow_none=True,
        metadata={"description": "Equal readings in a row that make a moving channel stuck: 2 to 10,000. 60"},
    )
    kinds = ShortList(
        fields.String(validate=validate.OneOf(ANOMALY_KINDS)),
        validate=validate.Length(max=len(ANOMALY_KINDS)),
        metadata={"description": "The kinds of anomaly that meet the trigger; all when empty or absent"},
    )


class BoundedCondition(Schema):
    """A schema with a `condition`, refused when too deep or too large before it is loaded."""

    @pre_load
    def _bounded(self, data: Any, **_: Any) -> Any:
        """Refuses a condition too deep or too large before it is loaded: loading recurses
        once per level, and a body of a megabyte holds thousands."""
        condition = data.get("condition") if isinstance(data, dict) else None
        if isinstance(condition, dict):
            refusal = _oversized(condition)
            if refusal is not None:
                path, message = refusal
                raise ValidationError({"condition": _nested([message], path)})
        return data


class Trigger(BoundedCondition):
    kind = fields.String(required=True, validate=validate.OneOf(TRIGGER_KINDS))
    condition = fields.Nested(
        Condition,
        allow_none=True,
        metadata={"description": "Required, but for no_data and anomaly, which take none"},
    )
    seconds = _seconds("duration and no_data: 1 to 2,592,000 (30 days)")
    count = common.count(0, MAX_COUNT, metadata={"description": "repeating: 1 to 100,000 readings"})
    channel = _channel(
        metadata={
            "description": "no_data: the channel watched; empty for any. anomaly: the float or int "
            "channel watched, required"
        }
    )
    detector = fields.Nested(
        DetectorSettings,
        allow_none=True,
        metadata={
            "description": "anomaly only: the detector's settings. An anomaly rule typically clears "
            "by unmet_for_seconds; its alarm's raised_by holds the verdict under anomaly"
        },
    )


def _oversized(condition: dict[str, Any]) -> tuple[list[str | int], str] | None:
    """Where and why a condition exceeds the contract's bounds, read without recursion."""
    predicates = 0
    # The condition itself comes first: the groups walked so far are its index.
    for groups, (path, node, depth) in enumerate(_walk(condition)):
        if depth > MAX_DEPTH:
            return path, f"groups nest at most {MAX_DEPTH} deep"
        if groups > MAX_GROUPS:
            return [], f"at most {MAX_GROUPS} groups in all"
        if isinstance(node.get("predicates"), list):
            predicates += len(node["predicates"])
        if predicates > MAX_PREDICATES:
            return [], f"at most {MAX_PREDICATES} predicates in all"
    return None


def _walk(condition: dict[str, Any]) -> Iterator[tuple[list[str | int], dict[str, Any], int]]:
    """Every group of a raw condition, the condition itself first, with its path and depth."""
    pending: list[tuple[list[str | int], dict[str, Any], int]] = [([], condition, 1)]
    while pending:
        path, node, depth = pending.pop()
        yield path, node, depth
        groups = node.get("groups")
        if isinstance(groups, list):
            pending += [
                ([*path, "groups", index], group, depth + 1)
                for index, group in reversed(list(enumerate(groups)))
                if isinstance(group, dict)
            ]


def _nested(messages: list[str], path: list[str | int]) -> Any:
    """`messages` under `path`, as marshmallow nests the errors of nested fields."""
    for key in reversed(path):
        messages = {key: messages}
    return messages


class CreateCondition(Schema):
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    trigger = fields.Nested(Trigger, required=True)


class ClearCondition(Schema):
    """A trigger of its own (hysteresis: raise above 90, clear below 80), or none, to clear
    once no create condition has been met for `unmet_for_seconds` (0: at once)."""

    trigger = fields.Nested(
        Trigger, allow_none=True, metadata={"description": "simple, duration or repeating"}
    )
    unmet_for_seconds = _seconds("Without a trigger: clear once unmet this long")


class AlarmRuleDefinition(Schema):
    """What a rule's update replaces: all of it but the profile, which stays."""

    name = printable(200, metadata={"description": "The alarm type raised", "example": "spindle overheating"})
    labels = ShortDict(
        keys=printable(64),
        values=printable(256, required=False),
        validate=validate.Length(max=MAX_LABELS),
        metadata={"description": "Only the profile's devices carrying all these labels"},
    )
    create = ShortList(
        fields.Nested(CreateCondition),
        required=True,
        validate=validate.Length(min=1, max=len(SEVERITIES)),
        metadata={"description": "One per severity; the most severe met wins"},
    )
    clear = fields.Nested(ClearCondition, metadata={"description": "Absent: clear at once when unmet"})


class AlarmRuleCreate(AlarmRuleDefinition):
    profile_id = fields.UUID(
        required=True, metadata={"description": "Its channels are checked against the latest version"}
    )


class AlarmRule(AlarmRuleCreate):
    id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    version = fields.Integer(required=True, metadata={"description": "The ETag; If-Match sends it back"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class AlarmRuleListQuery(PageQuery):
    profile_id = fields.UUID(load_default=None, metadata={"description": "Only this profile's rules"})


class AlarmRuleList(Schema):
    items = fields.List(fields.Nested(AlarmRule), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})
