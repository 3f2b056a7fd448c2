"""What the schemas of every area share: number ranges, enum names, pages, periods,
partial updates, and the problem document."""

from __future__ import annotations

from typing import Any

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.kit.protos import enum_prefix

# The ranges of the gRPC fields the numbers are forwarded in.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# A reading's value: what a channel of any value type holds.
SCALAR = {"oneOf": [{"type": "number"}, {"type": "integer"}, {"type": "boolean"}, {"type": "string"}]}


def names(enum: EnumTypeWrapper) -> tuple[str, ...]:
    """The lower-case names of a protobuf enum's values but UNSPECIFIED, without the
    prefix they share: ListingKind -> ("capability", "capacity", "product")."""
    prefix = enum_prefix(enum.DESCRIPTOR)
    return tuple(enum.Name(number).removeprefix(prefix).lower() for number in enum.values() if number)


def count(minimum: int = 1, maximum: int = INT64_MAX, **kwargs: Any) -> fields.Integer:
    """A whole number in a range; strict, since a string or 1.0 is no count a partner means."""
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kwargs)


class _LengthFirst(fields.Field):
    """Refuses a collection by its length before its items are loaded: a megabyte of
    nested items takes seconds to load, and no time to count."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, list | dict):
            for rule in self.validators:
                if isinstance(rule, validate.Length):
                    rule(value)
        return super()._deserialize(value, attr, data, **kwargs)


class ShortList(_LengthFirst, fields.List):
    pass


class ShortDict(_LengthFirst, fields.Dict):
    pass


class Patch(Schema):
    """A partial update: the fields absent stay as they are, but one must be present."""

    @validates_schema
    def names_a_change(self, data: dict, **_: object) -> None:
        if not data:
            raise ValidationError("name at least one field to change", "_schema")


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default="", validate=validate.Length(max=2048))


class Period(Schema):
    start = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339, inclusive"})
    end = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339, exclusive"})


class ProblemDetail(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    request_id = fields.String()
    errors = fields.List(fields.Dict())
