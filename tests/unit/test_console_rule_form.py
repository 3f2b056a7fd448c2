"""The alarm rules page's form: a rule it can hold comes back as it was, one it cannot is
left to the API, and what is wrong is named as the form names its fields."""

from __future__ import annotations

from gantry.v1 import analytics_pb2, registry_pb2

from services.console.people.refusals import Refusal
from services.console.rule_form import ROWS, RuleForm, entered, form_of, on_the_form, rule_of

CHANNELS = {"spindle_temp": registry_pb2.VALUE_TYPE_FLOAT, "door_open": registry_pb2.VALUE_TYPE_BOOL}


def _form(**fields: str) -> dict[str, str]:
    return {"name": "hot spindle", "labels": "line=A\n", "clear_after": "30", **fields}


def test_a_rule_made_by_the_form_reads_back_as_the_form() -> None:
    sent = _form(
        **{
            "create-0-severity": "major",
            "create-0-channel": "spindle_temp",
            "create-0-operator": "gt",
            "create-0-value": "90",
            "create-0-kind": "duration",
            "create-0-seconds": "60",
            "create-2-severity": "critical",
            "create-2-channel": "spindle_temp",
            "create-2-operator": "inside",
            "create-2-value": "100",
            "create-2-upper": "150.5",
            "create-2-kind": "simple",
        }
    )
    rule, used, wrong = rule_of(entered(sent), CHANNELS)
    assert wrong is None and used == [0, 2]
    assert dict(rule.labels) == {"line": "A"} and rule.clear.unmet_for_seconds == 30
    major, critical = rule.create
    assert (major.severity, major.trigger.kind, major.trigger.seconds) == (
        analytics_pb2.SEVERITY_MAJOR,
        analytics_pb2.TRIGGER_KIND_DURATION,
        60,
    )
    assert critical.trigger.condition.predicates[0].upper.number == 150.5
    back = form_of(rule)
    assert back is not None
    assert (back.name, back.labels, back.clear_after) == ("hot spindle", "line=A", "30")
    assert [row["severity"] for row in back.rows] == ["major", "critical", "", ""]
    assert back.rows[1]["value"] == "100" and back.rows[1]["upper"] == "150.5"


def test_values_the_channel_cannot_take_are_named_by_the_backends_path() -> None:
    sent = _form(
        labels="no equals sign",
        clear_after="soon",
        **{
            "create-1-severity": "minor",
            "create-1-channel": "door_open",
            "create-1-operator": "eq",
            "create-1-value": "maybe",
            "create-1-kind": "repeating",
            "create-1-count": "",
            "create-3-severity": "warning",
            "create-3-channel": "spindle_temp",
            "create-3-value": "nan",
        },
    )
    _rule, used, wrong = rule_of(entered(sent), CHANNELS)
    assert used == [1, 3] and wrong is not None
    assert wrong.fields == {
        "rule.labels",
        "rule.clear.unmet_for_seconds",
        "rule.create.0.trigger.condition.predicates.0.value",
        "rule.create.0.trigger.count",
        "rule.create.1.trigger.condition.predicates.0.value",
    }
    assert on_the_form(wrong, used).fields == {
        "labels",
        "clear_after",
        "create-1-value",
        "create-1-count",
        "create-3-value",
    }


def test_the_backends_paths_become_the_rows_of_the_form() -> None:
    refusal = Refusal(
        "invalid",
        400,
        fields=frozenset(
            {
                "rule.name",
                "rule.create",
                "rule.create.1.severity",
                "rule.create.0.trigger.condition.predicates.0.channel",
                "rule.create.0.trigger.condition",
                "expected_version",
            }
        ),
    )
    assert on_the_form(refusal, [2, 3]).fields == {
        "name",
        "create",
        "create-3-severity",
        "create-2-channel",
        "create-2",
        "expected_version",
    }


def test_rules_beyond_the_form_are_left_to_the_api() -> None:
    hot = analytics_pb2.Predicate(
        channel="spindle_temp", operator=analytics_pb2.OPERATOR_GT, value=analytics_pb2.Operand(number=90)
    )
    by_attribute = analytics_pb2.Predicate(
        channel="spindle_temp",
        operator=analytics_pb2.OPERATOR_GT,
        value=analytics_pb2.Operand(attribute="max"),
    )

    def rule(
        *predicates: analytics_pb2.Predicate, kind: int = analytics_pb2.TRIGGER_KIND_SIMPLE
    ) -> analytics_pb2.AlarmRule:
        trigger = analytics_pb2.Trigger(kind=kind, condition=analytics_pb2.Condition(predicates=predicates))
        return analytics_pb2.AlarmRule(
            name="r",
            create=[analytics_pb2.CreateCondition(severity=analytics_pb2.SEVERITY_MAJOR, trigger=trigger)],
        )

    assert form_of(rule(hot)) is not None
    assert form_of(rule(hot, hot)) is None
    assert form_of(rule(by_attribute)) is None
    assert form_of(rule(kind=analytics_pb2.TRIGGER_KIND_NO_DATA)) is None
    cleared_by_condition = rule(hot)
    cleared_by_condition.clear.trigger.CopyFrom(cleared_by_condition.create[0].trigger)
    assert form_of(cleared_by_condition) is None
    assert len(RuleForm().rows) == ROWS
