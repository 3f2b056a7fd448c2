"""Input checks shared by every service: marshmallow loading that raises `InvalidArgument`,
and the field rules hostile input meets first."""

from __future__ import annotations

import re
import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from services.kit.errors import FieldViolation, InvalidArgument

# Control characters (NUL included) have no place in names and identifiers; they
# break logs, CSV exports and the terminals of whoever reads them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> bool:
    if _CONTROL.search(value):
        raise ValidationError("must not contain control characters")
    return True


def text(max_length: int, *, required: bool = True, **kwargs: Any) -> fields.String:
    """A trimmed-length, printable string field."""
    rules = [validate.Length(min=1 if required else 0, max=max_length), _printable]
    return fields.String(required=required, validate=rules, **kwargs)


def load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as error:
        raise InvalidArgument.from_messages(error.messages_dict) from error


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def require_uuid(value: str, field: str) -> str:
    """The canonical form of an id, or InvalidArgument naming `field`."""
    if isinstance(value, str) and _CANONICAL_UUID.match(value):
        return value  # already canonical, as nearly every id sent is
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument([FieldViolation(field, "must be a UUID")]) from None
