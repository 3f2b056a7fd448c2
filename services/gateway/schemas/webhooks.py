"""Webhook subscriptions and their deliveries. Field names are those of
protos/gantry/v1/analytics.proto; analytics checks the URL against the platform's policy
(https, no credentials, a public target unless the operator allows otherwise), these
schemas its type and length, and the event types."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.gateway.schemas.common import ShortList
from services.kit.events import ALARM_EVENTS

# The contract's bounds (services/analytics/domain/targets.py).
MAX_URL_LENGTH = 2048
DELIVERY_STATES = ("pending", "delivered", "abandoned")


class WebhookCreate(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={
            "description": "https, without credentials, to a public address",
            "example": "https://partner.example/hooks/gantry",
        },
    )
    event_types = ShortList(
        fields.String(validate=validate.OneOf(ALARM_EVENTS)),
        required=True,
        validate=validate.Length(min=1, max=len(ALARM_EVENTS)),
        metadata={"description": "Alarm events delivered; at least one"},
    )


class Webhook(WebhookCreate):
    id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    enabled = fields.Boolean(required=True)
    disabled_reason = fields.String(
        required=True, metadata={"description": '"failing for a day" or "by request"; empty while enabled'}
    )
    created_at = fields.DateTime(required=True)
    failing_since = fields.DateTime(
        allow_none=True,
        metadata={"description": "Since when every delivery has failed; null while they succeed"},
    )


class WebhookCreated(Webhook):
    secret = fields.String(
        required=True,
        metadata={
            "description": "`whsec_…`: verifies the Gantry-Signature header. Shown in this answer only"
        },
    )


class WebhookList(Schema):
    items = fields.List(fields.Nested(Webhook), required=True, metadata={"description": "Newest first"})
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class DeliveryAttempt(Schema):
    at = fields.DateTime(required=True)
    status_code = fields.Integer(
        required=True, metadata={"description": "The HTTP status answered; 0 when none came"}
    )
    error = fields.String(
        required=True, metadata={"description": 'Why it failed: "timeout", "HTTP 500", ...'}
    )
    duration_ms = fields.Integer(required=True)


class WebhookDelivery(Schema):
    id = fields.UUID(required=True)
    webhook_id = fields.UUID(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True, metadata={"example": "alarm.raised"})
    state = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATES))
    created_at = fields.DateTime(required=True)
    next_attempt_at = fields.DateTime(
        allow_none=True, metadata={"description": "null once delivered or abandoned"}
    )
    attempts = fields.List(
        fields.Nested(DeliveryAttempt), required=True, metadata={"description": "Oldest first"}
    )


class WebhookDeliveryList(Schema):
    items = fields.List(
        fields.Nested(WebhookDelivery), required=True, metadata={"description": "Newest first"}
    )
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})
