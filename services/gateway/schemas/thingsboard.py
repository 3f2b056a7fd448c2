"""ThingsBoard's HTTP device API: free-form telemetry and attributes of one device."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate


class ThingsBoardTelemetry(Schema):
    """ThingsBoard's device telemetry: `{"key": value, ...}`, `{"ts": ms, "values": {...}}`,
    or an array of either."""

    class Meta:
        unknown = INCLUDE


class ThingsBoardAttributes(Schema):
    """Client attributes a device reports: `{"key": value, ...}`; null removes a key."""

    class Meta:
        unknown = INCLUDE


class ThingsBoardAttributesQuery(Schema):
    clientKeys = fields.String(
        load_default="", validate=validate.Length(max=4096), metadata={"description": "comma-separated"}
    )
    sharedKeys = fields.String(
        load_default="", validate=validate.Length(max=4096), metadata={"description": "comma-separated"}
    )


class ThingsBoardAttributeValues(Schema):
    client = fields.Dict(required=True)
    shared = fields.Dict(required=True)
