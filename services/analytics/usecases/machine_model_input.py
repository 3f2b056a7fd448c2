"""What a machine model must be: its shape (marshmallow), then its sense against the
channels of its profile. Violations name each field as the contract does:
`model.states.values.2.value`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.analytics.domain.timeline import Category
from services.analytics.usecases.rule_input import (
    ConditionSchema,
    condition_violations,
    numeric_channel_violations,
)
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.registry import ProfileChannel
from services.kit.validation import text as printable

MAX_STATE_VALUES = 64
MAX_STATE_CONDITIONS = 16
MAX_CYCLE_SECONDS = 7 * 24 * 3600
MAX_GAP_SECONDS = 24 * 3600
MAX_WRAP = 2**63
# Categories a reading can report; UNREPORTED is what silence is.
REPORTED = [c.value for c in Category if c is not Category.UNREPORTED]
STATE_TYPES = frozenset({"enum", "string", "int", "bool"})
# The Python class of a state value each channel type takes.
_STATE_VALUE_CLASS = {"enum": str, "string": str, "int": int, "bool": bool}


class StateValueSchema(Schema):
    value = fields.Raw(required=True)
    category = fields.String(required=True, validate=validate.OneOf(REPORTED))


class StateConditionSchema(Schema):
    category = fields.String(required=True, validate=validate.OneOf(REPORTED))
    condition = fields.Nested(ConditionSchema, required=True)


class StatesSchema(Schema):
    channel = fields.String(validate=validate.Length(min=1, max=64))
    values = fields.List(fields.Nested(StateValueSchema), validate=validate.Length(max=MAX_STATE_VALUES))
    conditions = fields.List(
        fields.Nested(StateConditionSchema), validate=validate.Length(min=1, max=MAX_STATE_CONDITIONS)
    )
    default = fields.String(required=True, validate=validate.OneOf(REPORTED))

    @validates_schema
    def _one_source(self, data: dict[str, Any], **_: Any) -> None:
        if ("channel" in data) == ("conditions" in data):
            raise ValidationError("give a state channel with its values, or conditions")
        if "channel" in data and not data.get("values"):
            raise ValidationError("map at least one of the channel's values", "values")


class CounterSchema(Schema):
    channel = fields.String(required=True, validate=validate.Length(min=1, max=64))
    wraps_at = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(1, MAX_WRAP))


class ModelSchema(Schema):
    states = fields.Nested(StatesSchema, required=True)
    produced = fields.Nested(CounterSchema, allow_none=True, load_default=None)
    scrap = fields.Nested(CounterSchema, allow_none=True, load_default=None)
    good = fields.Nested(CounterSchema, allow_none=True, load_default=None)
    ideal_cycle_seconds = fields.Float(
        load_default=0.0, allow_nan=False, validate=validate.Range(0, MAX_CYCLE_SECONDS)
    )
    ideal_cycle_attribute = printable(128, required=False, load_default="")
    max_gap_seconds = fields.Integer(load_default=300, validate=validate.Range(1, MAX_GAP_SECONDS))

    @validates_schema
    def _counters(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("scrap") and data.get("good"):
            raise ValidationError("count scrap or good parts, not both", "good")
        if (data.get("scrap") or data.get("good")) and not data.get("produced"):
            raise ValidationError("scrap and good parts are counted against produced ones", "produced")


class ModelRequestSchema(Schema):
    """The model as the calls carry it, so that violations name `model.<field>`."""

    model = fields.Nested(ModelSchema, required=True)


def check_against_profile(model: Mapping[str, Any], channels: Mapping[str, ProfileChannel]) -> None:
    """InvalidArgument naming every part of the model the profile's channels cannot meet."""
    violations = list(_state_violations(model["states"], channels))
    for name in ("produced", "scrap", "good"):
        if model[name]:
            violations += numeric_channel_violations(
                model[name]["channel"],
                channels,
                f"model.{name}.channel",
                "a counter is an int or float channel",
            )
    if violations:
        raise InvalidArgument(violations)


def _state_violations(
    states: Mapping[str, Any], channels: Mapping[str, ProfileChannel]
) -> Iterator[FieldViolation]:
    if "conditions" in states:
        for index, case in enumerate(states["conditions"]):
            yield from condition_violations(
                case["condition"], channels, f"model.states.conditions.{index}.condition"
            )
        return
    channel = channels.get(states["channel"])
    if channel is None:
        yield FieldViolation("model.states.channel", "no such channel in the profile")
    elif channel.value_type not in STATE_TYPES:
        yield FieldViolation("model.states.channel", "a state channel is an enum, string, int or bool")
    else:
        seen: set[tuple[type, Any]] = set()
        for index, case in enumerate(states["values"]):
            yield from _value_violations(case["value"], channel, seen, f"model.states.values.{index}.value")


def _value_violations(
    value: Any, channel: ProfileChannel, seen: set[tuple[type, Any]], path: str
) -> Iterator[FieldViolation]:
    wanted = _STATE_VALUE_CLASS[channel.value_type]
    if value.__class__ is not wanted:
        yield FieldViolation(path, f"a {channel.value_type} channel's values are of type {wanted.__name__}")
    elif channel.value_type == "enum" and value not in channel.allowed_values:
        yield FieldViolation(path, f"one of the channel's values: {', '.join(channel.allowed_values)}")
    elif (wanted, value) in seen:
        yield FieldViolation(path, "each value is mapped once")
    seen.add((value.__class__, value))
