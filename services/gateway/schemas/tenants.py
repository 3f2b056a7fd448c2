"""Tenants and their API keys."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.gateway.schemas.common import PageQuery, Patch
from services.kit.scopes import SCOPES
from services.kit.validation import text

_COUNTRY_MESSAGE = "must be an ISO 3166-1 alpha-2 code in capitals, e.g. CN"
COUNTRY_RULE = validate.Regexp(r"^[A-Z]{2}$", error=_COUNTRY_MESSAGE)
SIZE_CLASSES = ("micro", "small", "medium", "large")
TENANT_STATUSES = ("active", "suspended")


class TenantCreate(Schema):
    name = text(200)
    country = fields.String(
        required=True,
        validate=[COUNTRY_RULE, validate.Length(equal=2)],
        metadata={"example": "CN", "description": "ISO 3166-1 alpha-2 country or region code"},
    )
    size_class = fields.String(required=True, validate=validate.OneOf(SIZE_CLASSES))


class Tenant(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True)
    country = fields.String(required=True)
    size_class = fields.String(required=True, validate=validate.OneOf(SIZE_CLASSES))
    status = fields.String(required=True, validate=validate.OneOf(TENANT_STATUSES))
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class TenantListQuery(PageQuery):
    country = fields.String(
        load_default="",
        validate=[validate.Regexp(r"^([A-Z]{2})?$", error=_COUNTRY_MESSAGE), validate.Length(max=2)],
    )
    status = fields.String(load_default=None, validate=validate.OneOf(TENANT_STATUSES))


class TenantList(Schema):
    items = fields.List(fields.Nested(Tenant), required=True)
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})
    total = fields.Integer()


class TenantPatch(Patch):
    """The fields to change; those absent stay as they are."""

    name = text(200, required=False)
    country = fields.String(validate=[COUNTRY_RULE, validate.Length(equal=2)])
    size_class = fields.String(validate=validate.OneOf(SIZE_CLASSES))
    status = fields.String(validate=validate.OneOf(TENANT_STATUSES))


class TenantCreated(Tenant):
    api_key = fields.String(
        required=True, metadata={"description": "The tenant's first admin API key. Shown only once."}
    )


class ApiKeyCreate(Schema):
    name = text(200)
    scopes = fields.List(
        fields.String(validate=validate.OneOf(SCOPES)),
        required=True,
        validate=validate.Length(min=1, max=len(SCOPES)),
    )
    expires_at = fields.AwareDateTime(load_default=None, metadata={"description": "RFC 3339; absent: never"})


class ApiKey(Schema):
    id = fields.String(required=True, metadata={"format": "uuid"})
    name = fields.String(required=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreated(ApiKey):
    secret = fields.String(required=True, metadata={"description": "The key itself. Shown only once."})


class ApiKeyList(Schema):
    items = fields.List(fields.Nested(ApiKey), required=True)
    next_cursor = fields.String(required=True)
    total = fields.Integer(required=True)
