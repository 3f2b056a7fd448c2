"""Device profiles, devices, and their access tokens (credentials)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from services.gateway.schemas.common import INT32_MAX, INT64_MAX, PageQuery, Patch
from services.kit.validation import text

VALUE_TYPES = ("float", "int", "bool", "string", "enum")
DEVICE_STATES = ("provisioned", "active", "suspended", "decommissioned")
MAX_BULK_DEVICES = 5000


class Channel(Schema):
    key = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "spindle_temp"}
    )
    value_type = fields.String(required=True, validate=validate.OneOf(VALUE_TYPES))
    unit = fields.String(load_default="", validate=validate.Length(max=32), metadata={"example": "degC"})
    allowed_values = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    min = fields.Float(load_default=None, allow_none=True)
    max = fields.Float(load_default=None, allow_none=True)
    sample_interval_ms = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT64_MAX))


class ProfileCreate(Schema):
    name = text(200)
    manufacturer = text(200, required=False, load_default="")
    model = text(200, required=False, load_default="")
    channels = fields.List(fields.Nested(Channel), required=True, validate=validate.Length(min=1, max=256))


class Profile(ProfileCreate):
    id = fields.String(required=True, metadata={"format": "uuid"})
    tenant_id = fields.String(required=True, metadata={"format": "uuid"})
    version = fields.Integer(required=True)
    latest_version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ProfileList(Schema):
    items = fields.List(fields.Nested(Profile), required=True)
    next_cursor = fields.String(required=True)


class ProfilePatch(Patch):
    """The fields to change. New channels make a new version of the profile."""

    name = text(200, required=False)
    manufacturer = text(200, required=False)
    model = text(200, required=False)
    channels = fields.List(fields.Nested(Channel), validate=validate.Length(min=1, max=256))


class DeviceCreate(Schema):
    serial_number = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "CNC-0001"}
    )
    display_name = text(200)
    profile_id = fields.UUID(required=True)
    profile_version = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=INT32_MAX),
        metadata={"description": "0 or absent: the latest version"},
    )
    site = text(200, required=False, load_default="")
    production_line = text(200, required=False, load_default="")
    labels = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    attributes = fields.Dict(keys=fields.String(), load_default=dict)
    firmware_version = text(64, required=False, load_default="")


class Device(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    tenant_id = fields.String(required=True, metadata={"format": "uuid"})
    serial_number = fields.String(required=True)
    display_name = fields.String(required=True)
    profile_id = fields.String(required=True, metadata={"format": "uuid"})
    profile_version = fields.Integer(required=True)
    site = fields.String(required=True)
    production_line = fields.String(required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    attributes = fields.Dict(keys=fields.String(), required=True)
    firmware_version = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(DEVICE_STATES))
    connectivity = fields.String(required=True, validate=validate.OneOf(("never_seen", "online", "offline")))
    last_seen_at = fields.DateTime(allow_none=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DeviceCreated(Device):
    access_token = fields.String(
        required=True, metadata={"description": "The device's first access token. Shown only once."}
    )


class DeviceBulkCreate(Schema):
    devices = fields.List(
        fields.Nested(DeviceCreate),
        required=True,
        validate=validate.Length(min=1, max=MAX_BULK_DEVICES),
        metadata={"description": "All registered, or none: an error names `devices[i].field`"},
    )


class DeviceBulkCreated(Schema):
    items = fields.List(fields.Nested(DeviceCreated), required=True)


def _label_selector(value: str) -> bool:
    key, separator, label = value.partition("=")
    if not separator or not key or not label:
        raise ValidationError("write each label as key=value")
    return True


class DeviceListQuery(PageQuery):
    """Parameters named as partners know them (`label`, `q`), loaded under the names of
    the request's fields (`labels`, `text`)."""

    profile_id = fields.UUID(load_default=None)
    state = fields.String(load_default=None, validate=validate.OneOf(DEVICE_STATES))
    site = fields.String(load_default="", validate=validate.Length(max=200))
    labels = fields.List(
        fields.String(validate=[validate.Length(max=127), _label_selector]),
        data_key="label",
        load_default=list,
        validate=validate.Length(max=16),
        metadata={"description": "key=value; repeat for several labels, all of which must match"},
    )
    text = fields.String(
        data_key="q",
        load_default="",
        validate=validate.Length(max=64),
        metadata={"description": "case-insensitive prefix of the serial number or the display name"},
    )
    order_by = fields.String(
        load_default="serial_number",
        validate=validate.OneOf(
            [f"{sign}{o}" for sign in ("", "-") for o in ("serial_number", "display_name", "created_at")]
        ),
    )
    include_total = fields.Boolean(load_default=False)


class DeviceList(Schema):
    items = fields.List(fields.Nested(Device), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})
    total = fields.Integer(required=True, metadata={"description": "-1 unless include_total was asked"})


class DevicePatch(Patch):
    """The fields to change; those absent stay as they are, labels and attributes are replaced whole."""

    display_name = text(200, required=False)
    site = text(200, required=False)
    production_line = text(200, required=False)
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    attributes = fields.Dict(keys=fields.String())
    firmware_version = text(64, required=False)
    profile_version = fields.Integer(
        validate=validate.Range(min=1, max=INT32_MAX),
        metadata={"description": "move to this version of the device's profile"},
    )


class StateChange(Schema):
    state = fields.String(required=True, validate=validate.OneOf(DEVICE_STATES[1:]))


class CredentialCreate(Schema):
    valid_from = fields.AwareDateTime(load_default=None, metadata={"description": "Absent: from now"})
    valid_until = fields.AwareDateTime(load_default=None, metadata={"description": "Absent: until revoked"})


class Credential(Schema):
    id = fields.String(required=True)
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    created_at = fields.DateTime(required=True)
    valid_from = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class CredentialCreated(Credential):
    access_token = fields.String(
        required=True, metadata={"description": "The access token. Shown only once."}
    )


class CredentialList(Schema):
    items = fields.List(fields.Nested(Credential), required=True)
