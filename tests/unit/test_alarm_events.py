"""Alarm events are built unchecked (the evaluator emits hundreds a second): each kind,
in each state an alarm can be in, must still be what the catalogue says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.analytics.domain.alarms import RULE_ACTOR, Alarm
from services.analytics.domain.rules import Severity
from services.analytics.usecases.alarms import alarm_event
from services.kit.events import ALARM_EVENTS, parse_event

STARTED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def raised() -> Alarm:
    return Alarm(
        id=str(uuid.uuid4()),
        tenant_id=str(uuid.uuid4()),
        device_id=str(uuid.uuid4()),
        rule_id=str(uuid.uuid4()),
        rule_version=3,
        name="spindle overheating",
        severity=Severity.MAJOR,
        active=True,
        acknowledged=False,
        started_at=STARTED,
        updated_at=STARTED,
        raised_by={"spindle_temp": 93.5, "mode": "AUTO", "door_open": False, "ts": 1772352000000},
        severity_history=((Severity.MAJOR, STARTED),),
    )


def moved_alarms() -> list[tuple[str, Alarm, Severity | None]]:
    alarm = raised()
    later = STARTED + timedelta(minutes=5)
    escalated = alarm.change_severity(Severity.CRITICAL, later)
    acknowledged = escalated.acknowledge("operator@example.com", later)
    return [
        ("alarm.raised", alarm, None),
        ("alarm.severity_changed", escalated, Severity.MAJOR),
        ("alarm.acknowledged", acknowledged, None),
        ("alarm.cleared", acknowledged.clear(RULE_ACTOR, later + timedelta(minutes=1)), None),
        ("alarm.cleared", alarm.clear("operator@example.com", later), None),
    ]


@pytest.mark.parametrize(("event_type", "alarm", "previous"), moved_alarms())
def test_each_alarm_event_validates_against_the_catalogue(
    event_type: str, alarm: Alarm, previous: Severity | None
) -> None:
    event = alarm_event(event_type, alarm, RULE_ACTOR, previous=previous)

    received = parse_event(event.to_message())

    assert received.type == event_type
    assert received.data["alarm_id"] == alarm.id
    assert received.data["status"] == alarm.status.value
    assert received.data["previous_severity"] == (previous.name.lower() if previous else None)


def test_every_alarm_event_type_is_covered() -> None:
    assert {event_type for event_type, _, _ in moved_alarms()} == set(ALARM_EVENTS)
