"""What a rule's definition must be: its shape (marshmallow), then its sense against the
channels of the profile it watches. Both name each offending field as the contract
does: `rule.create.0.trigger.condition.predicates.1.channel`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.analytics.domain.anomalies import AnomalyKind
from services.analytics.domain.definitions import CONSTANT_KINDS, DETECTOR_SETTINGS, detector_settings
from services.analytics.domain.rules import (
    EQUALITY_OPERATORS,
    RANGE_OPERATORS,
    Combinator,
    Operator,
    Severity,
    TriggerKind,
)
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.registry import ProfileChannel
from services.kit.validation import text as printable

MAX_SECONDS = 30 * 24 * 3600
MAX_COUNT = 100_000
MAX_PREDICATES = 32
MAX_DEPTH = 4
MAX_LABELS = 16
NUMERIC = frozenset({"float", "int"})
# The operand kind each channel type is compared with.
_OPERAND_OF = {"float": "number", "int": "number", "bool": "flag", "string": "text", "enum": "text"}


class OperandSchema(Schema):
    number = fields.Float(allow_nan=False)
    text = fields.String(validate=validate.Length(max=1024))
    flag = fields.Boolean()
    attribute = printable(128, required=False)

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **_: Any) -> None:
        if len(data) != 1:
            raise ValidationError(f"give exactly one of {', '.join((*CONSTANT_KINDS, 'attribute'))}")


class PredicateSchema(Schema):
    channel = fields.String(required=True, validate=validate.Length(min=1, max=64))
    operator = fields.String(required=True, validate=validate.OneOf([o.value for o in Operator]))
    value = fields.Nested(OperandSchema, required=True)
    upper = fields.Nested(OperandSchema, allow_none=True, load_default=None)


class ConditionSchema(Schema):
    combinator = fields.String(load_default="all", validate=validate.OneOf([c.value for c in Combinator]))
    predicates = fields.List(fields.Nested(PredicateSchema), load_default=list)
    groups = fields.List(fields.Nested(lambda: ConditionSchema()), load_default=list)


class DetectorSchema(Schema):
    threshold = fields.Float(allow_nan=False)
    warmup = fields.Integer()
    stuck_readings = fields.Integer()
    kinds = fields.List(fields.String(validate=validate.OneOf([k.value for k in AnomalyKind])))

    @validates_schema
    def _in_range(self, data: dict[str, Any], **_: Any) -> None:
        """The detector's own bounds, each setting checked alone so that every one out of
        range is named."""
        errors = {}
        for name in DETECTOR_SETTINGS:
            if name in data:
                try:
                    detector_settings({name: data[name]})
                except ValueError as error:
                    errors[name] = [str(error).removeprefix(f"{name} ")]
        if errors:
            raise ValidationError(errors)


# The kinds taking no condition.
_UNCONDITIONED = (TriggerKind.NO_DATA, TriggerKind.ANOMALY)


class TriggerSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in TriggerKind]))
    condition = fields.Nested(ConditionSchema, allow_none=True, load_default=None)
    seconds = fields.Integer(load_default=0, validate=validate.Range(0, MAX_SECONDS))
    count = fields.Integer(load_default=0, validate=validate.Range(0, MAX_COUNT))
    channel = fields.String(load_default="", validate=validate.Length(max=64))
    detector = fields.Nested(DetectorSchema, allow_none=True, load_default=None)

    @validates_schema
    def _fits_kind(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("kind")
        if kind in (TriggerKind.DURATION, TriggerKind.NO_DATA) and data.get("seconds", 0) < 1:
            raise ValidationError(f"1 to {MAX_SECONDS} seconds (30 days)", "seconds")
        if kind == TriggerKind.REPEATING and data.get("count", 0) < 1:
            raise ValidationError(f"1 to {MAX_COUNT} readings", "count")
        if kind in _UNCONDITIONED and data.get("condition"):
            raise ValidationError(f"{kind.upper()} takes no condition", "condition")
        if kind not in _UNCONDITIONED and not data.get("condition"):
            raise ValidationError("required", "condition")
        if kind == TriggerKind.ANOMALY and not data.get("channel"):
            raise ValidationError("required", "channel")
        if kind != TriggerKind.ANOMALY and data.get("detector") is not None:
            raise ValidationError("ANOMALY alone takes a detector", "detector")


class CreateConditionSchema(Schema):
    severity = fields.String(required=True, validate=validate.OneOf([s.name.lower() for s in Severity]))
    trigger = fields.Nested(TriggerSchema, required=True)


class ClearSchema(Schema):
    trigger = fields.Nested(TriggerSchema, allow_none=True, load_default=None)
    unmet_for_seconds = fields.Integer(load_default=0, validate=validate.Range(0, MAX_SECONDS))


def _distinct_severities(items: list[dict[str, Any]]) -> bool:
    severities = [item.get("severity") for item in items]
    if len(set(severities)) != len(severities):
        raise ValidationError("at most one create condition per severity")
    return True


class RuleSchema(Schema):
    name = printable(200)
    labels = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.String(validate=validate.Length(max=256)),
        load_default=dict,
        validate=validate.Length(max=MAX_LABELS),
    )
    create = fields.List(
        fields.Nested(CreateConditionSchema),
        required=True,
        validate=[validate.Length(min=1, max=len(Severity)), _distinct_severities],
    )
    clear = fields.Nested(ClearSchema, load_default=lambda: {"trigger": None, "unmet_for_seconds": 0})


class RuleRequestSchema(Schema):
    """The definition as the calls carry it, so that violations name `rule.<field>`."""

    rule = fields.Nested(RuleSchema, required=True)


def check_against_profile(definition: Mapping[str, Any], channels: Mapping[str, ProfileChannel]) -> None:
    """InvalidArgument naming every part of the definition the profile's channels cannot
    meet: unknown channels, comparisons of the wrong type, empty or oversized conditions."""
    violations = list(_create_violations(definition["create"], channels))
    clear_trigger = definition["clear"]["trigger"]
    if clear_trigger is not None:
        if clear_trigger["kind"] in _UNCONDITIONED:
            violations.append(
                FieldViolation("rule.clear.trigger.kind", "a clear trigger is SIMPLE, DURATION or REPEATING")
            )
        violations += _trigger_violations(clear_trigger, channels, "rule.clear.trigger")
    if violations:
        raise InvalidArgument(violations)


def _create_violations(
    create: list[dict[str, Any]], channels: Mapping[str, ProfileChannel]
) -> Iterator[FieldViolation]:
    for index, item in enumerate(create):
        yield from _trigger_violations(item["trigger"], channels, f"rule.create.{index}.trigger")


def _trigger_violations(
    trigger: Mapping[str, Any], channels: Mapping[str, ProfileChannel], path: str
) -> list[FieldViolation]:
    if trigger["kind"] == TriggerKind.NO_DATA:
        if trigger["channel"] and trigger["channel"] not in channels:
            return [FieldViolation(f"{path}.channel", "no such channel in the profile")]
        return []
    if trigger["kind"] == TriggerKind.ANOMALY:
        return _anomaly_violations(trigger["channel"], channels, f"{path}.channel")
    return condition_violations(trigger["condition"], channels, f"{path}.condition")


def _anomaly_violations(name: str, channels: Mapping[str, ProfileChannel], path: str) -> list[FieldViolation]:
    channel = channels.get(name)
    why = f"a {channel.value_type} channel has no anomalies: watch a FLOAT or INT" if channel else ""
    return numeric_channel_violations(name, channels, path, why)


def numeric_channel_violations(
    name: str, channels: Mapping[str, ProfileChannel], path: str, why: str
) -> list[FieldViolation]:
    """`name` must be an int or float channel of the profile; `why` says so otherwise."""
    channel = channels.get(name)
    if channel is None:
        return [FieldViolation(path, "no such channel in the profile")]
    if channel.value_type not in NUMERIC:
        return [FieldViolation(path, why)]
    return []


def _predicate_count(condition: Mapping[str, Any]) -> int:
    return len(condition["predicates"]) + sum(_predicate_count(g) for g in condition["groups"])


def _condition_violations(
    condition: Mapping[str, Any], channels: Mapping[str, ProfileChannel], path: str, depth: int
) -> Iterator[FieldViolation]:
    if depth > MAX_DEPTH:
        yield FieldViolation(path, f"groups nest at most {MAX_DEPTH} deep")
        return
    if not condition["predicates"] and not condition["groups"]:
        yield FieldViolation(path, "an empty condition: give predicates or groups")
    for index, predicate in enumerate(condition["predicates"]):
        yield from _predicate_violations(predicate, channels, f"{path}.predicates.{index}")
    for index, group in enumerate(condition["groups"]):
        yield from _condition_violations(group, channels, f"{path}.groups.{index}", depth + 1)


def _predicate_violations(
    predicate: Mapping[str, Any], channels: Mapping[str, ProfileChannel], path: str
) -> Iterator[FieldViolation]:
    channel = channels.get(predicate["channel"])
    if channel is None:
        yield FieldViolation(f"{path}.channel", "no such channel in the profile")
        return
    operator = Operator(predicate["operator"])
    if channel.value_type not in NUMERIC and operator not in EQUALITY_OPERATORS:
        yield FieldViolation(f"{path}.operator", f"a {channel.value_type} channel is compared by EQ or NE")
    ranged = operator in RANGE_OPERATORS
    if ranged != (predicate["upper"] is not None):
        yield FieldViolation(f"{path}.upper", "INSIDE and OUTSIDE take an upper bound; other operators none")
    for side in ("value", "upper") if ranged else ("value",):
        operand = predicate[side]
        if operand is not None:
            yield from _operand_violations(operand, channel, f"{path}.{side}")
    if ranged and predicate["upper"] is not None and _constants_reversed(predicate):
        yield FieldViolation(f"{path}.upper", "must not be below the lower bound")


def _operand_violations(
    operand: Mapping[str, Any], channel: ProfileChannel, path: str
) -> Iterator[FieldViolation]:
    if "attribute" in operand:
        return
    wanted = _OPERAND_OF.get(channel.value_type)
    (kind,) = operand
    if kind != wanted:
        yield FieldViolation(
            path, f"a {channel.value_type} channel is compared with a {wanted} or an attribute"
        )
    elif channel.value_type == "enum" and operand["text"] not in channel.allowed_values:
        yield FieldViolation(path, f"one of the channel's values: {', '.join(channel.allowed_values)}")


def _constants_reversed(predicate: Mapping[str, Any]) -> bool:
    low, high = predicate["value"], predicate["upper"]
    return "number" in low and "number" in high and low["number"] > high["number"]


def condition_violations(
    condition: Mapping[str, Any], channels: Mapping[str, ProfileChannel], path: str
) -> list[FieldViolation]:
    """Everything wrong with a condition the profile's channels are to meet."""
    violations = list(_condition_violations(condition, channels, path, 1))
    if _predicate_count(condition) > MAX_PREDICATES:
        violations.append(FieldViolation(path, f"at most {MAX_PREDICATES} predicates in all"))
    return violations
