"""Conversions between analytics's protobuf messages and its domain values.

A rule's definition crosses as the plain data of `domain/definitions.py`: protobuf's
own JSON mapping, with enum names shortened to the domain's (SEVERITY_CRITICAL ->
"critical"), so that the gRPC adapter and the gateway hand the use cases the same
shape and get the same field violations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from gantry.v1 import analytics_pb2 as pb
from google.protobuf import json_format

from services.analytics.domain.alarms import Alarm, AlarmStatus
from services.analytics.domain.definitions import clear_data, create_data
from services.analytics.domain.rules import AlarmRule
from services.kit.protos import EnumMap, timestamp, timestamp_fields

# The fields of a definition holding enums, and their prefixes in the contract.
_ENUM_PREFIXES = {
    "severity": "SEVERITY_",
    "operator": "OPERATOR_",
    "combinator": "COMBINATOR_",
    "kind": "TRIGGER_KIND_",
    # A detector's kinds of anomaly: a list of them.
    "kinds": "ANOMALY_KIND_",
}
ALARM_STATUSES = EnumMap(pb.AlarmStatus, "ALARM_STATUS_", AlarmStatus)


# The fields of a rule a caller defines; the others are the rule's own record.
DEFINITION_FIELDS = ("name", "labels", "create", "clear")


def definition_of(rule: pb.AlarmRule) -> dict[str, Any]:
    """The definition a request carries, as the use cases read it."""
    data = json_format.MessageToDict(rule, preserving_proto_field_name=True)
    defined = {key: value for key, value in data.items() if key in DEFINITION_FIELDS}
    return _renamed(defined, _domain_name)


def definition_message(definition: dict[str, Any]) -> pb.AlarmRule:
    """A definition (`domain/definitions.py`) in the contract's shape."""
    return json_format.ParseDict(_renamed(_without_nones(definition), _contract_name), pb.AlarmRule())


def condition_of(condition: pb.Condition) -> dict[str, Any]:
    """A condition as a rule's definition holds it; a machine model's states use it too."""
    return _renamed(json_format.MessageToDict(condition, preserving_proto_field_name=True), _domain_name)


def condition_message(condition: dict[str, Any]) -> pb.Condition:
    return json_format.ParseDict(_renamed(_without_nones(condition), _contract_name), pb.Condition())


def _domain_name(key: str, value: str) -> str:
    return value.removeprefix(_ENUM_PREFIXES[key]).lower()


def _contract_name(key: str, value: str) -> str:
    return _ENUM_PREFIXES[key] + value.upper()


def rule_message(rule: AlarmRule) -> pb.AlarmRule:
    data = {"labels": dict(rule.labels), "create": create_data(rule.create), "clear": clear_data(rule.clear)}
    message = definition_message(data)
    message.MergeFrom(
        pb.AlarmRule(
            id=rule.id,
            tenant_id=rule.tenant_id,
            profile_id=rule.profile_id,
            name=rule.name,
            version=rule.version,
            **timestamp_fields(created_at=rule.created_at, updated_at=rule.updated_at),
        )
    )
    return message


def alarm_message(alarm: Alarm) -> pb.Alarm:
    return pb.Alarm(
        id=alarm.id,
        tenant_id=alarm.tenant_id,
        device_id=alarm.device_id,
        rule_id=alarm.rule_id,
        rule_version=alarm.rule_version,
        name=alarm.name,
        severity=int(alarm.severity),
        status=ALARM_STATUSES.to_proto(alarm.status),
        raised_by_json=orjson.dumps(alarm.raised_by).decode(),
        severity_history=[
            pb.SeverityChange(severity=int(severity), at=timestamp(at))
            for severity, at in alarm.severity_history
        ],
        acknowledged_by=alarm.acknowledged_by,
        cleared_by=alarm.cleared_by,
        comments=[
            pb.AlarmComment(author=c["author"], text=c["text"], at=timestamp(datetime.fromisoformat(c["at"])))
            for c in alarm.comments
        ],
        **timestamp_fields(
            started_at=alarm.started_at, cleared_at=alarm.cleared_at, acknowledged_at=alarm.acknowledged_at
        ),
    )


def _renamed(data: Any, rename: Any) -> Any:
    """`data` with the value of every enum field passed through `rename`; labels are the
    tenant's own words and stay as they are."""
    if isinstance(data, dict):
        return {key: _renamed_field(key, value, rename) for key, value in data.items()}
    if isinstance(data, list):
        return [_renamed(item, rename) for item in data]
    return data


def _renamed_field(key: str, value: Any, rename: Any) -> Any:
    if key == "labels":
        return value
    if key in _ENUM_PREFIXES and isinstance(value, str):
        return rename(key, value)
    if key in _ENUM_PREFIXES and isinstance(value, list):
        return [_renamed_field(key, item, rename) for item in value]
    return _renamed(value, rename)


def _without_nones(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _without_nones(value) for key, value in data.items() if value is not None}
    if isinstance(data, list):
        return [_without_nones(item) for item in data]
    return data
