from __future__ import annotations

import uuid

import pytest

from services.kit.errors import InvalidArgument
from services.kit.events import new_event, parse_event

DEVICE = {
    "device_id": str(uuid.uuid4()),
    "serial_number": "S-1",
    "display_name": "Mill",
    "state": "provisioned",
    "profile_id": "p",
    "profile_version": 1,
}


def test_an_event_survives_the_trip_through_its_message() -> None:
    event = new_event("device.registered", str(uuid.uuid4()), DEVICE)
    assert parse_event(event.to_message()) == event


def test_publishers_cannot_emit_events_outside_the_catalogue() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        new_event("device.exploded", None, {})
    with pytest.raises(ValueError, match="data invalid"):
        new_event("device.registered", None, {**DEVICE, "serial_number": None})


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "id"),
        (
            {
                "id": "x",
                "type": "device.registered",
                "occurred_at": "2026-01-01T00:00:00Z",
                "tenant_id": None,
                "data": DEVICE,
            },
            "id",
        ),
        (
            {
                "id": str(uuid.uuid4()),
                "type": "nope",
                "occurred_at": "2026-01-01T00:00:00Z",
                "tenant_id": None,
                "data": {},
            },
            "type",
        ),
        (
            {
                "id": str(uuid.uuid4()),
                "type": "device.registered",
                "occurred_at": "yesterday",
                "tenant_id": None,
                "data": DEVICE,
            },
            "occurred_at",
        ),
        (
            {
                "id": str(uuid.uuid4()),
                "type": "device.registered",
                "occurred_at": "2026-01-01T00:00:00Z",
                "tenant_id": None,
                "data": {},
            },
            "device_id",
        ),
    ],
)
def test_consumers_reject_messages_that_break_the_contract(body: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_event(body)
    assert field in {violation.field for violation in raised.value.violations}
