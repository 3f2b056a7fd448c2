"""The services' messages as the plant pages show them: enum names in the words the
templates translate, values as text, times as aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gantry.v1 import analytics_pb2, registry_pb2, telemetry_pb2
from google.protobuf.timestamp_pb2 import Timestamp

ACTIVE_STATUSES = (
    analytics_pb2.ALARM_STATUS_ACTIVE_UNACKNOWLEDGED,
    analytics_pb2.ALARM_STATUS_ACTIVE_ACKNOWLEDGED,
)
CLEARED_STATUSES = (
    analytics_pb2.ALARM_STATUS_CLEARED_UNACKNOWLEDGED,
    analytics_pb2.ALARM_STATUS_CLEARED_ACKNOWLEDGED,
)
SEVERITIES = ("critical", "major", "minor", "warning")


def state_name(state: int) -> str:
    return registry_pb2.DeviceState.Name(state).removeprefix("DEVICE_STATE_").lower()


def connectivity_name(connectivity: int) -> str:
    return registry_pb2.Connectivity.Name(connectivity).removeprefix("CONNECTIVITY_").lower()


def device_row(device: registry_pb2.Device, profiles: dict[str, str]) -> dict[str, Any]:
    return {
        "id": device.id,
        "serial_number": device.serial_number,
        "display_name": device.display_name,
        "profile": profiles.get(device.profile_id, ""),
        "state": state_name(device.state),
        "connectivity": connectivity_name(device.connectivity),
        "last_seen_at": moment_of(device.last_seen_at),
    }


def severity_name(severity: int) -> str:
    return analytics_pb2.Severity.Name(severity).removeprefix("SEVERITY_").lower()


def severity_of(name: str) -> int:
    return analytics_pb2.Severity.Value(f"SEVERITY_{name.upper()}")


def moment_of(timestamp: Timestamp) -> datetime | None:
    """An aware datetime; None for an unset timestamp."""
    if not timestamp.seconds and not timestamp.nanos:
        return None
    return timestamp.ToDatetime(tzinfo=UTC)


def value_text(value: telemetry_pb2.Value) -> str:
    kind = value.WhichOneof("kind")
    if kind is None:
        return ""
    found = getattr(value, kind)
    if kind == "bool_value":
        return "true" if found else "false"
    if kind == "float_value":
        return f"{found:.6g}"
    return str(found)


def reading_view(reading: telemetry_pb2.Reading) -> dict[str, Any]:
    return {"channel": reading.channel, "value": value_text(reading.value), "at": moment_of(reading.ts)}


def alarm_view(alarm: analytics_pb2.Alarm) -> dict[str, Any]:
    """What a row of alarms shows; `raised_by` is the reading's JSON as stored, shown as
    text (escaped like every stored input)."""
    status = analytics_pb2.AlarmStatus.Name(alarm.status).removeprefix("ALARM_STATUS_").lower()
    return {
        "id": alarm.id,
        "device_id": alarm.device_id,
        "name": alarm.name,
        "severity": severity_name(alarm.severity),
        "status": status,
        "active": alarm.status in ACTIVE_STATUSES,
        "acknowledged": alarm.status
        in (analytics_pb2.ALARM_STATUS_ACTIVE_ACKNOWLEDGED, analytics_pb2.ALARM_STATUS_CLEARED_ACKNOWLEDGED),
        "started_at": moment_of(alarm.started_at),
        "cleared_at": moment_of(alarm.cleared_at),
        "raised_by": alarm.raised_by_json,
        "acknowledged_by": alarm.acknowledged_by,
        "cleared_by": alarm.cleared_by,
        "comments": [
            {"author": comment.author, "text": comment.text, "at": moment_of(comment.at)}
            for comment in alarm.comments
        ],
    }
