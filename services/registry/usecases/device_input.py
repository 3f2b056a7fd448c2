"""What a device request may hold: the rules of its fields, checked before any use case runs."""

from __future__ import annotations

from typing import Any

import orjson
from marshmallow import Schema, ValidationError, fields, validate

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.validation import load, text
from services.registry.queries.devices import ORDERS

MAX_LABELS = 64
MAX_LABEL_FILTERS = 16
MAX_ATTRIBUTES_BYTES = 16 * 1024
SERIAL = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z"
LABEL_KEY = r"^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?\Z"
UPDATABLE = (
    "display_name",
    "site",
    "production_line",
    "labels",
    "attributes",
    "firmware_version",
    "profile_version",
)


def _labels_fit(labels: dict[str, str]) -> bool:
    if len(labels) > MAX_LABELS:
        raise ValidationError(f"at most {MAX_LABELS} labels")
    return True


def _attributes_fit(attributes: dict[str, Any]) -> bool:
    if len(orjson.dumps(attributes)) > MAX_ATTRIBUTES_BYTES:
        raise ValidationError(f"at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    return True


LABEL_KEY_MESSAGE = "1-63 lowercase letters, digits or ._/-"


def labels_field() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Regexp(LABEL_KEY, error=LABEL_KEY_MESSAGE)),
        values=text(63, required=False),
        load_default=dict,
        validate=_labels_fit,
    )


class DeviceSchema(Schema):
    serial_number = fields.String(
        required=True, validate=validate.Regexp(SERIAL, error="1-64 letters, digits or ._:/-")
    )
    display_name = text(200)
    profile_id = fields.UUID(required=True)
    profile_version = fields.Integer(load_default=0, validate=validate.Range(min=0))
    site = text(200, required=False, load_default="")
    production_line = text(200, required=False, load_default="")
    labels = labels_field()
    attributes = fields.Dict(keys=fields.String(), load_default=dict, validate=_attributes_fit)
    firmware_version = text(64, required=False, load_default="")


class ListSchema(Schema):
    profile_id = fields.UUID(load_default=None)
    site = text(200, required=False, load_default="")
    labels = fields.Dict(
        keys=fields.String(validate=validate.Regexp(LABEL_KEY, error=LABEL_KEY_MESSAGE)),
        values=text(63, required=False),
        load_default=dict,
        validate=validate.Length(max=MAX_LABEL_FILTERS),
    )
    text = text(64, required=False, load_default="")
    order_by = fields.String(
        load_default="serial_number",
        validate=validate.OneOf([*ORDERS, *(f"-{o}" for o in ORDERS)]),
    )


def load_each(schema: Schema, specs: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Loads every spec, collecting the violations of all of them under their names."""
    loaded, violations = [], []
    for name, spec in zip(names, specs, strict=True):
        try:
            loaded.append(load(schema, spec))
        except InvalidArgument as error:
            violations += [FieldViolation(f"{name}.{v.field}", v.description) for v in error.violations]
    first_with: dict[str, str] = {}
    for name, command in zip(names, loaded if not violations else [], strict=False):
        if command["serial_number"] in first_with:
            violations.append(
                FieldViolation(f"{name}.serial_number", f"repeats {first_with[command['serial_number']]}")
            )
        first_with.setdefault(command["serial_number"], name)
    if violations:
        raise InvalidArgument(violations)
    return loaded
