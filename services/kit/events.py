"""The one envelope of every event on the bus, and the catalogue of event types.

The catalogue is the contract between services, as the .proto files are for gRPC:
a consumer never receives an event that does not validate against it, and publishers
check theirs before they emit them (all but one, whose shape its tests check).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from services.kit.errors import InvalidArgument
from services.kit.ids import new_uuid


class TenantCreated(Schema):
    name = fields.String(required=True)
    country = fields.String(required=True, validate=validate.Length(equal=2))
    size_class = fields.String(required=True)


class TenantUpdated(TenantCreated):
    status = fields.String(required=True)
    version = fields.Integer(required=True)


class DeviceDetails(Schema):
    """What a device carries for rules to select it by and measure it against. Absent
    from events published before they carried them: a consumer keeps what it knew."""

    labels = fields.Dict(keys=fields.String(), values=fields.String())
    attributes = fields.Dict()
    # Where the device is: the site's shift calendar plans its figures.
    site = fields.String()


class DeviceRegistered(DeviceDetails):
    device_id = fields.String(required=True)
    serial_number = fields.String(required=True)
    display_name = fields.String(required=True)
    state = fields.String(required=True)
    profile_id = fields.String(required=True)
    profile_version = fields.Integer(required=True)


class DeviceUpdated(DeviceDetails):
    device_id = fields.String(required=True)
    version = fields.Integer(required=True)
    changed = fields.List(fields.String(), required=True)
    profile_id = fields.String(required=True)
    profile_version = fields.Integer(required=True)


class DeviceStateChanged(Schema):
    device_id = fields.String(required=True)
    version = fields.Integer(required=True)
    previous_state = fields.String(required=True)
    state = fields.String(required=True)


class ProfilePublished(Schema):
    profile_id = fields.String(required=True)
    version = fields.Integer(required=True)
    channels = fields.List(fields.Dict(), required=True)


class CredentialRevoked(Schema):
    credential_id = fields.String(required=True)
    device_id = fields.String(required=True)


class ApiKeyRevoked(Schema):
    api_key_id = fields.String(required=True)


class DeviceBatch(Schema):
    device_id = fields.String(required=True)
    count = fields.Integer(required=True, validate=validate.Range(min=1))
    first_ts = fields.AwareDateTime(required=True, format="iso")
    last_ts = fields.AwareDateTime(required=True, format="iso")


class TelemetryBatchStored(Schema):
    """A batch of readings was stored: which devices, how many, when; never values."""

    devices = fields.List(fields.Nested(DeviceBatch), required=True)


class ReadingsRejected(Schema):
    """Readings of the envelope's tenant that ingest refused in the minute starting at
    `minute`, counted by one telemetry-api process (several report for the same minute)."""

    minute = fields.AwareDateTime(required=True, format="iso")
    rejected = fields.Integer(required=True, validate=validate.Range(min=1))


class ListingPublished(Schema):
    listing_id = fields.String(required=True)
    kind = fields.String(required=True)
    category = fields.String(required=True)
    currency = fields.String(required=True)
    price = fields.Integer(required=True)


class OrderChanged(Schema):
    """An order reached a state; amounts in integer minor units. The envelope's tenant is
    the buyer's."""

    order_id = fields.String(required=True)
    buyer_id = fields.String(required=True)
    seller_id = fields.String(required=True)
    state = fields.String(required=True)
    currency = fields.String(required=True)
    total = fields.Integer(required=True)
    fee = fields.Integer(required=True)
    version = fields.Integer(required=True)
    # A capacity order's: the seller's device whose machine-hours it booked, and the
    # start of each hour it holds now (none once cancelled). Absent for other orders.
    device_id = fields.String()
    slots = fields.List(fields.AwareDateTime(format="iso"))


class TransferPosted(Schema):
    transfer_id = fields.String(required=True)
    kind = fields.String(required=True)
    code = fields.String(required=True)
    currency = fields.String(required=True)
    amount = fields.Integer(required=True)
    order_id = fields.String(required=True, allow_none=True)


class AlarmChanged(Schema):
    """An alarm moved: raised, changed severity, was acknowledged or cleared. Severities
    are "warning", "minor", "major" or "critical"; `actor` is who acted ("rule" when
    the rule did)."""

    alarm_id = fields.String(required=True)
    device_id = fields.String(required=True)
    rule_id = fields.String(required=True)
    name = fields.String(required=True)
    severity = fields.String(required=True)
    previous_severity = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    started_at = fields.AwareDateTime(required=True, format="iso")
    cleared_at = fields.AwareDateTime(required=True, allow_none=True, format="iso")
    actor = fields.String(required=True)
    # The reading that raised it: {"ts": ..., channel: value, ...}.
    reading = fields.Dict(required=True)


class HourOfWeekSpent(Schema):
    """An hour of the week in the site's zone (weekday 0 = Monday), with the seconds of it
    the machine produced, stood idle and was down, averaged over the weeks measured."""

    weekday = fields.Integer(required=True, validate=validate.Range(min=0, max=6))
    hour = fields.Integer(required=True, validate=validate.Range(min=0, max=23))
    producing_seconds = fields.Float(required=True)
    idle_seconds = fields.Float(required=True)
    down_seconds = fields.Float(required=True)


class CapacityMeasured(Schema):
    """How a modelled machine of the envelope's tenant spent each hour of the week over
    [start, end) (the last four weeks), as analytics measured it at `measured_at`;
    published every GANTRY_ANALYTICS_CAPACITY_SECONDS. `utilisation` is the share of the
    week it produced; `oee` and `mtbf_seconds` are null when undefined (no plan, no failure)."""

    device_id = fields.String(required=True)
    # The site's IANA zone, in which the hours of the week are counted.
    zone = fields.String(required=True)
    start = fields.AwareDateTime(required=True, format="iso")
    end = fields.AwareDateTime(required=True, format="iso")
    hours = fields.List(fields.Nested(HourOfWeekSpent), required=True, validate=validate.Length(equal=168))
    utilisation = fields.Float(required=True)
    idle_hours_per_week = fields.Float(required=True)
    oee = fields.Float(required=True, allow_none=True)
    mtbf_seconds = fields.Float(required=True, allow_none=True)
    measured_at = fields.AwareDateTime(required=True, format="iso")


SLOT_VERDICTS = ("ran", "idle", "down", "not_measured")


class SlotEvidence(Schema):
    """What the machine did in one booked slot [starts_at, ends_at): seconds producing, in
    setup, idle and faulted, parts made and good, faults started; `verdict` sums it up."""

    starts_at = fields.AwareDateTime(required=True, format="iso")
    ends_at = fields.AwareDateTime(required=True, format="iso")
    verdict = fields.String(required=True, validate=validate.OneOf(SLOT_VERDICTS))
    producing_seconds = fields.Float(required=True)
    setup_seconds = fields.Float(required=True)
    idle_seconds = fields.Float(required=True)
    down_seconds = fields.Float(required=True)
    parts = fields.Float(required=True)
    good_parts = fields.Float(required=True)
    failures = fields.Integer(required=True)


class CapacitySlotEvidence(Schema):
    """Analytics's evidence of a capacity order's booked slots that ended since it last
    reported the order's (each slot once), measured at `measured_at` from the machine's
    telemetry. The envelope's tenant is the seller's, whose device it is."""

    order_id = fields.String(required=True)
    device_id = fields.String(required=True)
    measured_at = fields.AwareDateTime(required=True, format="iso")
    slots = fields.List(fields.Nested(SlotEvidence), required=True, validate=validate.Length(min=1))


class RpcRequested(Schema):
    """A partner called a device's method (server-side RPC): protocol adapters holding the
    device's connection deliver it. `params` is any JSON value."""

    rpc_id = fields.String(required=True)
    device_id = fields.String(required=True)
    method = fields.String(required=True)
    params = fields.Raw(required=True, allow_none=True)
    one_way = fields.Boolean(required=True)
    expires_at = fields.AwareDateTime(required=True, format="iso")


class RpcChanged(Schema):
    """A server-side RPC reached a status: "sent", "delivered" (one-way) or "succeeded"."""

    rpc_id = fields.String(required=True)
    device_id = fields.String(required=True)
    status = fields.String(required=True)


ALARM_EVENTS = ("alarm.raised", "alarm.severity_changed", "alarm.acknowledged", "alarm.cleared")

CATALOGUE: dict[str, type[Schema]] = {
    "tenant.created": TenantCreated,
    "tenant.updated": TenantUpdated,
    "device.registered": DeviceRegistered,
    "device.updated": DeviceUpdated,
    "device.state_changed": DeviceStateChanged,
    "device.decommissioned": DeviceStateChanged,
    "profile.published": ProfilePublished,
    "credential.revoked": CredentialRevoked,
    "device.rpc_requested": RpcRequested,
    "device.rpc_changed": RpcChanged,
    "api_key.revoked": ApiKeyRevoked,
    "telemetry.batch_stored": TelemetryBatchStored,
    "telemetry.readings_rejected": ReadingsRejected,
    "listing.published": ListingPublished,
    "order.placed": OrderChanged,
    "order.funded": OrderChanged,
    "order.completed": OrderChanged,
    "order.cancelled": OrderChanged,
    "order.disputed": OrderChanged,
    "ledger.transfer_posted": TransferPosted,
    "capacity.measured": CapacityMeasured,
    "capacity.slot_evidence": CapacitySlotEvidence,
    **dict.fromkeys(ALARM_EVENTS, AlarmChanged),
}


# One schema of each type, built once: a schema is costly to build, cheap to use, and
# safe to share between threads for validating and loading.
_SCHEMAS = {event_type: schema() for event_type, schema in CATALOGUE.items()}


class EnvelopeSchema(Schema):
    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(CATALOGUE))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    tenant_id = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True)


_ENVELOPE = EnvelopeSchema()


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
    errors = _SCHEMAS[event_type].validate(data)
    if errors:
        raise ValueError(f"{event_type} data invalid: {errors}")
    return Event(str(uuid.uuid4()), event_type, datetime.now(UTC), tenant_id, data)


def unchecked_event(event_type: str, tenant_id: str | None, data: dict[str, Any]) -> Event:
    """An event stamped now, its data not checked: for a publisher of hundreds of events a
    second (analytics-evaluator's alarms), whose data is built field by field from a
    domain object and whose shape a test checks against the catalogue. Checking would cost
    it a tenth of its time; every consumer still checks what it receives (parse_event)."""
    return Event(new_uuid(), event_type, datetime.now(UTC), tenant_id, data)


def parse_event(body: dict[str, Any]) -> Event:
    """Validates a received message; InvalidArgument when it breaks the contract."""
    try:
        envelope = _ENVELOPE.load(body)
        data = _SCHEMAS[envelope["type"]].load(envelope["data"])
    except ValidationError as error:
        raise InvalidArgument.from_messages(error.messages_dict) from error
    return Event(str(envelope["id"]), envelope["type"], envelope["occurred_at"], envelope["tenant_id"], data)
