"""Alarms and the overview. Field names are those of protos/gantry/v1/analytics.proto,
so that analytics's field errors name the body's fields."""

from __future__ import annotations

from typing import Any

from gantry.v1 import analytics_pb2 as pb
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from services.gateway.schemas.alarm_rules import SEVERITIES, readable
from services.gateway.schemas.common import PageQuery, names

ALARM_STATUSES = names(pb.AlarmStatus)
MAX_COMMENT_LENGTH = 2000


class SeverityChange(Schema):
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    at = fields.DateTime(required=True)


class AlarmComment(Schema):
    author = fields.String(required=True, metadata={"description": "The API key's id"})
    text = fields.String(required=True)
    at = fields.DateTime(required=True)


class Alarm(Schema):
    id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    device_id = fields.UUID(required=True)
    rule_id = fields.UUID(required=True)
    rule_version = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "The rule's name when raised"})
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    status = fields.String(required=True, validate=validate.OneOf(ALARM_STATUSES))
    started_at = fields.DateTime(required=True, metadata={"description": "The time of the reading"})
    cleared_at = fields.DateTime(allow_none=True, metadata={"description": "null while active"})
    raised_by = fields.Dict(
        required=True,
        metadata={
            "description": "The reading that raised it; an anomaly rule's adds its verdict under anomaly: "
            "kind, score and the expected band, low to high",
            "example": {"ts": 1767225600000, "t": 97.5},
        },
    )
    severity_history = fields.List(
        fields.Nested(SeverityChange), required=True, metadata={"description": "Oldest first"}
    )
    acknowledged_by = fields.String(
        required=True, metadata={"description": "The acknowledging API key's id; empty until then"}
    )
    acknowledged_at = fields.DateTime(allow_none=True)
    cleared_by = fields.String(
        required=True, metadata={"description": 'The clearing API key\'s id, or "rule"; empty while active'}
    )
    comments = fields.List(fields.Nested(AlarmComment), required=True)


class QueryList(fields.List):
    """A list in a query string: the parameter repeated, or its values separated by commas."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = [part for item in value for part in item.split(",")]
        return super()._deserialize(value, attr, data, **kwargs)


def _any_of(values: tuple[str, ...], parameter: str) -> QueryList:
    return QueryList(
        fields.String(validate=validate.OneOf(values)),
        data_key=parameter,
        load_default=list,
        validate=validate.Length(max=len(values)),
        metadata={"description": f"Any of these; repeat {parameter} or separate by commas. All when absent"},
    )


class AlarmListQuery(PageQuery):
    """Parameters named as partners know them (`status`), loaded under the names of the
    request's fields (`statuses`)."""

    statuses = _any_of(ALARM_STATUSES, "status")
    severities = _any_of(SEVERITIES, "severity")
    active = fields.Boolean(
        load_default=None,
        metadata={"description": "true: the active statuses; false: the cleared ones. Not with status"},
    )
    device_id = fields.UUID(load_default=None)
    rule_id = fields.UUID(load_default=None)
    started_after = fields.AwareDateTime(load_default=None, metadata={"description": "RFC 3339, inclusive"})
    started_before = fields.AwareDateTime(load_default=None, metadata={"description": "RFC 3339, exclusive"})

    @validates_schema
    def _active_or_status(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("active") is not None and data.get("statuses"):
            raise ValidationError("give active or status, not both", "active")

    @post_load
    def _statuses_of_active(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        active = data.pop("active")
        if active is not None:
            state = "active_" if active else "cleared_"
            data["statuses"] = [status for status in ALARM_STATUSES if status.startswith(state)]
        return data


class AlarmList(Schema):
    items = fields.List(fields.Nested(Alarm), required=True, metadata={"description": "Newest first"})
    next_cursor = fields.String(required=True, metadata={"description": "empty on the last page"})


class CommentCreate(Schema):
    text = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_COMMENT_LENGTH), readable])


def _counts(description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True, metadata={"description": description}
    )


class Overview(Schema):
    devices_by_state = _counts('Devices by state: "provisioned", "active", "suspended", "decommissioned"')
    devices_by_connectivity = _counts(
        'Devices not decommissioned by connectivity: "online" (a reading in the last minutes), '
        '"offline" or "never_seen"'
    )
    active_alarms_by_severity = _counts('Active alarms by severity: "critical", "major", "minor", "warning"')
    readings_accepted_last_hour = fields.Integer(required=True)
    readings_accepted_last_day = fields.Integer(required=True)
    readings_rejected_last_hour = fields.Integer(required=True)
    readings_rejected_last_day = fields.Integer(required=True)
