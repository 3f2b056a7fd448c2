"""Device provisioning: a profile's settings, and ThingsBoard's HTTP provisioning request."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

STRATEGIES = ("disabled", "allow_create_new_devices", "check_pre_provisioned_devices")
_KEY_CHARACTERS = r"^[A-Za-z0-9._-]*$"
_KEY_MESSAGE = "letters, digits or ._- only"


class ProvisioningSet(Schema):
    strategy = fields.String(required=True, validate=validate.OneOf(STRATEGIES))
    provision_key = fields.String(
        validate=[validate.Length(min=8, max=64), validate.Regexp(_KEY_CHARACTERS, error=_KEY_MESSAGE)],
        metadata={"description": "8-64 letters, digits or ._-; a new random one when absent"},
    )
    provision_secret = fields.String(
        validate=[validate.Length(min=16, max=128), validate.Regexp(_KEY_CHARACTERS, error=_KEY_MESSAGE)],
        metadata={"description": "16-128 letters, digits or ._-; a new random one when absent"},
    )


class Provisioning(Schema):
    profile_id = fields.String(required=True, metadata={"format": "uuid"})
    strategy = fields.String(required=True, validate=validate.OneOf(STRATEGIES))
    provision_key = fields.String(required=True)
    updated_at = fields.DateTime(required=True)


class ProvisioningWithSecret(Provisioning):
    provision_secret = fields.String(required=True, metadata={"description": "shown only once"})


class ThingsBoardProvisionRequest(Schema):
    """ThingsBoard's provisioning request; other fields are ignored, as ThingsBoard does."""

    class Meta:
        unknown = EXCLUDE

    deviceName = fields.String(load_default="", validate=validate.Length(max=256))
    provisionDeviceKey = fields.String(load_default="", validate=validate.Length(max=256))
    provisionDeviceSecret = fields.String(load_default="", validate=validate.Length(max=256))
    credentialsType = fields.String(load_default="", validate=validate.Length(max=64))
    token = fields.String(load_default="", validate=validate.Length(max=256))


class ThingsBoardProvisionResponse(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("SUCCESS", "NOT_FOUND", "FAILURE")))
    credentialsType = fields.String(metadata={"example": "ACCESS_TOKEN"})
    credentialsValue = fields.String()
    errorMsg = fields.String(metadata={"example": "Provision data was not found!"})
