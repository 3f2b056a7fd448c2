"""The gateway's JSON bodies: validated by these schemas and documented from them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.kit.validation import text

SIZE_CLASSES = ("micro", "small", "medium", "large")


class TenantCreate(Schema):
    name = text(200)
    country = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{2}$"),
        metadata={"example": "CN", "description": "ISO 3166-1 alpha-2 country or region code"},
    )
    size_class = fields.String(required=True, validate=validate.OneOf(SIZE_CLASSES))


class Tenant(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True)
    country = fields.String(required=True)
    size_class = fields.String(required=True, validate=validate.OneOf(SIZE_CLASSES))
    status = fields.String(required=True, validate=validate.OneOf(("active", "suspended")))
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class TenantCreated(Tenant):
    api_key = fields.String(
        required=True, metadata={"description": "The tenant's first admin API key. Shown only once."}
    )


class DeviceCreate(Schema):
    serial_number = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
    )
    display_name = text(200)


class Device(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    tenant_id = fields.String(required=True, metadata={"format": "uuid"})
    serial_number = fields.String(required=True)
    display_name = fields.String(required=True)
    state = fields.String(
        required=True, validate=validate.OneOf(("provisioned", "active", "suspended", "decommissioned"))
    )
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ChannelValue(Schema):
    channel = fields.String(required=True)
    ts = fields.DateTime(required=True)
    value = fields.Raw(
        required=True,
        metadata={
            "oneOf": [
                {"type": "number"},
                {"type": "integer"},
                {"type": "boolean"},
                {"type": "string"},
            ]
        },
    )


class LatestValues(Schema):
    device_id = fields.String(required=True, metadata={"format": "uuid"})
    values = fields.List(fields.Nested(ChannelValue), required=True)


class ProblemDetail(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    request_id = fields.String()
    errors = fields.List(fields.Dict())


class Health(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())
