"""The gateway's reading of alarm rules and alarm queries: bodies of any shape or depth
refused by the field they break, never by the stack; answers that read back as bodies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from gantry.v1 import analytics_pb2 as pb
from marshmallow import Schema, ValidationError

from services.gateway.protojson import to_json, to_message
from services.gateway.schemas.alarm_rules import AlarmRuleCreate, AlarmRuleDefinition
from services.gateway.schemas.analytics import AlarmListQuery
from services.kit.errors import InvalidArgument

HOT = {"channel": "spindle_temp", "operator": "gt", "value": {"number": 90}}
CONDITION = "create.0.trigger.condition"


def rule(condition: Any, **definition: Any) -> dict[str, Any]:
    trigger = {"kind": "simple", "condition": condition}
    return {
        "profile_id": str(uuid.uuid4()),
        "name": "spindle overheating",
        "create": [{"severity": "major", "trigger": trigger}],
        **definition,
    }


def violations(schema: Schema, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused:
        schema.load(data)
    return {
        v.field: v.description for v in InvalidArgument.from_messages(refused.value.messages_dict).violations
    }


def nested(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"predicates": [HOT]}
    for _ in range(depth - 1):
        condition = {"groups": [condition]}
    return condition


def test_groups_nest_four_deep_and_no_deeper_whatever_the_depth_sent() -> None:
    assert AlarmRuleCreate().load(rule(nested(4)))
    fifth = f"{CONDITION}{'.groups.0' * 4}"
    # Deeper than marshmallow could load without exhausting the stack.
    for depth in (5, 500):
        assert violations(AlarmRuleCreate(), rule(nested(depth))) == {fifth: "groups nest at most 4 deep"}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"predicates": [HOT] * 20, "groups": [{"predicates": [HOT] * 13}]}, "at most 32 predicates in all"),
        ({"groups": [{"groups": [{"groups": [{}] * 32}] * 32}] * 32}, "at most 96 groups in all"),
    ],
)
def test_conditions_are_bounded_in_all(condition: dict[str, Any], message: str) -> None:
    assert violations(AlarmRuleCreate(), rule(condition)) == {CONDITION: message}


def test_long_lists_are_refused_by_their_length() -> None:
    body = rule(nested(1), labels={f"k{i}": "v" for i in range(10_000)})
    body["create"] *= 10_000
    assert violations(AlarmRuleCreate(), body) == {
        "create": "Length must be between 1 and 4.",
        "labels": "Longer than maximum length 16.",
    }


def test_an_operand_is_of_exactly_one_kind() -> None:
    both = {**HOT, "value": {"number": 1, "text": "x"}, "upper": {}}
    assert violations(AlarmRuleCreate(), rule({"predicates": [both]})) == {
        f"{CONDITION}.predicates.0.value": "give exactly one of number, text, flag, attribute",
        f"{CONDITION}.predicates.0.upper": "give exactly one of number, text, flag, attribute",
    }


def test_an_answered_rule_reads_back_as_its_definition() -> None:
    body = rule(
        {
            "combinator": "any",
            "predicates": [HOT, {"channel": "door", "operator": "eq", "value": {"flag": False}}],
            "groups": [
                {
                    "predicates": [
                        {**HOT, "operator": "inside", "value": {"number": 0}, "upper": {"attribute": "max"}}
                    ]
                }
            ],
        },
        labels={"line": "L1"},
        clear={"trigger": None, "unmet_for_seconds": 300},
    )
    sent = to_message(pb.AlarmRule, AlarmRuleCreate().load(body))
    answered = to_json(sent, omit=("id", "tenant_id", "profile_id", "version", "created_at", "updated_at"))
    assert answered["create"][0]["trigger"]["condition"]["predicates"][1]["value"] == {
        "number": None,
        "text": None,
        "flag": False,
        "attribute": None,
    }
    assert to_message(pb.AlarmRule, AlarmRuleDefinition().load(answered), profile_id=sent.profile_id) == sent


def anomaly_rule(**detector: Any) -> dict[str, Any]:
    trigger = {"kind": "anomaly", "channel": "vibration", "detector": detector}
    clear = {"trigger": None, "unmet_for_seconds": 60}
    return {**rule(None), "create": [{"severity": "major", "trigger": trigger}], "clear": clear}


def test_an_answered_anomaly_rule_reads_back_as_its_definition() -> None:
    sent = to_message(
        pb.AlarmRule, AlarmRuleCreate().load(anomaly_rule(threshold=5, kinds=["spike", "stuck"]))
    )
    answered = to_json(sent, omit=("id", "tenant_id", "profile_id", "version", "created_at", "updated_at"))
    trigger = answered["create"][0]["trigger"]
    assert (trigger["kind"], trigger["channel"], trigger["condition"]) == ("anomaly", "vibration", None)
    # Settings not given are null: analytics gives them their defaults.
    assert trigger["detector"] == {
        "threshold": 5.0,
        "warmup": None,
        "stuck_readings": None,
        "kinds": ["spike", "stuck"],
    }
    assert to_message(pb.AlarmRule, AlarmRuleDefinition().load(answered), profile_id=sent.profile_id) == sent


def test_detector_settings_are_refused_by_the_field_they_break() -> None:
    detector = "create.0.trigger.detector"
    body = anomaly_rule(warmup=0, stuck_readings=10_001, kinds=["drift"], threshold="high")
    assert violations(AlarmRuleCreate(), body) == {
        f"{detector}.warmup": "Must be greater than or equal to 1 and less than or equal to 10000.",
        f"{detector}.stuck_readings": "Must be greater than or equal to 2 and less than or equal to 10000.",
        f"{detector}.kinds.0": "Must be one of: spike, level_shift, stuck.",
        f"{detector}.threshold": "Not a valid number.",
    }


def test_statuses_repeat_or_come_comma_separated_or_as_active() -> None:
    query = AlarmListQuery()
    both = ["active_unacknowledged", "cleared_acknowledged"]
    assert query.load({"status": ["active_unacknowledged,cleared_acknowledged"]})["statuses"] == both
    assert query.load({"status": both})["statuses"] == both
    assert query.load({"active": "true"})["statuses"] == ["active_unacknowledged", "active_acknowledged"]
    assert query.load({"active": "false"})["statuses"] == ["cleared_unacknowledged", "cleared_acknowledged"]
    assert violations(query, {"status": ["active_acknowledged,gone"]}) == {
        "status.1": "Must be one of: active_unacknowledged, active_acknowledged, "
        "cleared_unacknowledged, cleared_acknowledged."
    }
    assert violations(query, {"active": "true", "status": ["cleared_acknowledged"]}) == {
        "active": "give active or status, not both"
    }


def test_the_reading_that_raised_an_alarm_answers_as_an_object() -> None:
    alarm = to_json(pb.Alarm(raised_by_json='{"ts": 1767225600000, "spindle_temp": 97.5}'))
    assert alarm["raised_by"] == {"ts": 1767225600000, "spindle_temp": 97.5}
    assert "raised_by_json" not in alarm
