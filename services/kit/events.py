"""The one envelope of every event on the bus, and the catalogue of event types.

The catalogue is the contract between services, as the .proto files are for gRPC:
a publisher cannot emit, and a consumer never receives, an event that does not
validate against it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from services.kit.errors import InvalidArgument


class TenantCreated(Schema):
    name = fields.String(required=True)
    country = fields.String(required=True, validate=validate.Length(equal=2))
    size_class = fields.String(required=True)


class DeviceRegistered(Schema):
    device_id = fields.String(required=True)
    serial_number = fields.String(required=True)
    display_name = fields.String(required=True)
    state = fields.String(required=True)


CATALOGUE: dict[str, type[Schema]] = {
    "tenant.created": TenantCreated,
    "device.registered": DeviceRegistered,
}


class EnvelopeSchema(Schema):
    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(CATALOGUE))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    tenant_id = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    occurred_at: datetime
    tenant_id: str | None
    data: dict[str, Any]

    def to_message(self) -> dict[str, Any]:
        """The JSON-ready body published on the bus."""
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "tenant_id": self.tenant_id,
            "data": self.data,
        }


def new_event(event_type: str, tenant_id: str | None, data: dict[str, Any]) -> Event:
    """An event stamped now, its data checked against the catalogue."""
    if event_type not in CATALOGUE:
        raise ValueError(f"unknown event type {event_type!r}")
    errors = CATALOGUE[event_type]().validate(data)
    if errors:
        raise ValueError(f"{event_type} data invalid: {errors}")
    return Event(str(uuid.uuid4()), event_type, datetime.now(UTC), tenant_id, data)


def parse_event(body: dict[str, Any]) -> Event:
    """Validates a received message; InvalidArgument when it breaks the contract."""
    try:
        envelope = EnvelopeSchema().load(body)
        data = CATALOGUE[envelope["type"]]().load(envelope["data"])
    except ValidationError as error:
        raise InvalidArgument.from_messages(error.messages_dict) from error
    return Event(str(envelope["id"]), envelope["type"], envelope["occurred_at"], envelope["tenant_id"], data)
