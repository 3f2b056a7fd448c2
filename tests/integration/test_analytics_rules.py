"""Alarm rules through analytics's gRPC API, on SQLite and PostgreSQL: created against
the profile's channels, read, listed, updated and deleted by version; every hostile
definition refused with the fields it names; another tenant's rules out of reach."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from gantry.v1 import analytics_pb2 as pb

from services.kit.bus import ConfirmingPublisher
from services.kit.store import Store
from tests.support.access import code_of, violations
from tests.support.analytics import (
    ProfileRegistry,
    Stub,
    above,
    analytics_server,
    analytics_store,
    below,
    rule_message,
)

TENANT = str(uuid.uuid4())
OVERHEATING = {
    "name": "spindle overheating",
    "create": [
        {
            "severity": "critical",
            "trigger": {
                "kind": "duration",
                "seconds": 60,
                "condition": above("spindle_temp", 95),
            },
        },
        {
            "severity": "major",
            "trigger": {"kind": "simple", "condition": above("spindle_temp", 90)},
        },
    ],
    "clear": {"trigger": {"kind": "simple", "condition": below("spindle_temp", 80)}},
}


@pytest.fixture
def registry() -> ProfileRegistry:
    return ProfileRegistry()


@pytest.fixture
def analytics(database_url: str, publisher: ConfirmingPublisher, registry: ProfileRegistry) -> Iterator[Stub]:
    store: Store
    with analytics_store(database_url, publisher) as store, analytics_server(store, registry) as stub:
        yield stub


@pytest.fixture
def profile(registry: ProfileRegistry) -> str:
    return registry.profile(TENANT)


def create(
    analytics: Stub, profile: str, definition: dict[str, Any] = OVERHEATING, tenant: str = TENANT
) -> pb.AlarmRule:
    return analytics.CreateAlarmRule(
        pb.CreateAlarmRuleRequest(tenant_id=tenant, rule=rule_message(profile, definition))
    )


def test_a_rule_reads_back_as_it_was_defined(analytics: Stub, profile: str) -> None:
    rule = create(analytics, profile)
    assert rule.version == 1 and rule.profile_id == profile and rule.tenant_id == TENANT
    assert [c.severity for c in rule.create] == [pb.SEVERITY_CRITICAL, pb.SEVERITY_MAJOR]
    critical = rule.create[0].trigger
    assert (critical.kind, critical.seconds) == (pb.TRIGGER_KIND_DURATION, 60)
    predicate = critical.condition.predicates[0]
    assert (predicate.channel, predicate.operator, predicate.value.number) == (
        "spindle_temp",
        pb.OPERATOR_GT,
        95,
    )
    assert rule.clear.trigger.condition.predicates[0].operator == pb.OPERATOR_LT
    assert analytics.GetAlarmRule(pb.GetAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id)) == rule


def test_every_operand_kind_and_nested_groups_are_kept(analytics: Stub, profile: str) -> None:
    condition = {
        "combinator": "any",
        "predicates": [
            {"channel": "mode", "operator": "eq", "value": {"text": "STOP"}},
            {"channel": "door_open", "operator": "eq", "value": {"flag": False}},
        ],
        "groups": [
            {
                "predicates": [
                    {
                        "channel": "spindle_rpm",
                        "operator": "outside",
                        "value": {"number": 0},
                        "upper": {"attribute": "max_rpm"},
                    },
                    {"channel": "program", "operator": "ne", "value": {"attribute": "program"}},
                ]
            }
        ],
    }
    definition = {
        "name": "odd running",
        "labels": {"line": "L1"},
        "create": [
            {
                "severity": "warning",
                "trigger": {"kind": "repeating", "count": 3, "condition": condition},
            }
        ],
        "clear": {"unmet_for_seconds": 300},
    }
    rule = create(analytics, profile, definition)
    trigger = rule.create[0].trigger
    assert trigger.condition.combinator == pb.COMBINATOR_ANY
    assert trigger.condition.predicates[1].value.WhichOneof("kind") == "flag"
    assert trigger.condition.predicates[0].value.text == "STOP"
    inner = trigger.condition.groups[0].predicates
    assert inner[0].value.WhichOneof("kind") == "number" and inner[0].value.number == 0
    assert inner[0].upper.attribute == "max_rpm"
    assert dict(rule.labels) == {"line": "L1"} and rule.clear.unmet_for_seconds == 300


VIBRATING = {
    "name": "spindle vibrating oddly",
    "create": [
        {
            "severity": "major",
            "trigger": {
                "kind": "anomaly",
                "channel": "spindle_temp",
                "detector": {"threshold": 5, "kinds": ["spike", "stuck"]},
            },
        }
    ],
    "clear": {"unmet_for_seconds": 60},
}


def test_an_anomaly_rule_reads_back_with_its_detector_and_is_updated(analytics: Stub, profile: str) -> None:
    rule = create(analytics, profile, VIBRATING)
    trigger = rule.create[0].trigger
    assert (trigger.kind, trigger.channel, trigger.HasField("condition")) == (
        pb.TRIGGER_KIND_ANOMALY,
        "spindle_temp",
        False,
    )
    # The settings not given read back as the defaults they take.
    assert (trigger.detector.threshold, trigger.detector.warmup, trigger.detector.stuck_readings) == (
        5,
        150,
        60,
    )
    assert list(trigger.detector.kinds) == [pb.ANOMALY_KIND_SPIKE, pb.ANOMALY_KIND_STUCK]
    assert analytics.GetAlarmRule(pb.GetAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id)) == rule

    changed = rule_message(profile, _trigger(kind="anomaly", channel="spindle_rpm", detector={"warmup": 20}))
    updated = analytics.UpdateAlarmRule(
        pb.UpdateAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id, expected_version=1, rule=changed)
    )
    detector = updated.create[0].trigger.detector
    assert (updated.version, updated.create[0].trigger.channel) == (2, "spindle_rpm")
    assert (detector.threshold, detector.warmup, detector.stuck_readings) == (4.5, 20, 60)
    assert list(detector.kinds) == [pb.ANOMALY_KIND_SPIKE, pb.ANOMALY_KIND_LEVEL_SHIFT, pb.ANOMALY_KIND_STUCK]
    assert analytics.GetAlarmRule(pb.GetAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id)) == updated


def test_rules_are_listed_by_profile_in_pages(
    analytics: Stub, registry: ProfileRegistry, profile: str
) -> None:
    other = registry.profile(TENANT)
    made = {create(analytics, profile).id for _ in range(3)} | {create(analytics, other).id}
    listed, cursor = [], ""
    while True:
        page = analytics.ListAlarmRules(
            pb.ListAlarmRulesRequest(tenant_id=TENANT, page={"page_size": 2, "cursor": cursor})
        )
        listed += [rule.id for rule in page.rules]
        cursor = page.page.next_cursor
        if not cursor:
            break
    assert sorted(listed) == sorted(made)
    of_profile = analytics.ListAlarmRules(pb.ListAlarmRulesRequest(tenant_id=TENANT, profile_id=other))
    assert [rule.profile_id for rule in of_profile.rules] == [other]


def test_updates_and_deletes_name_the_version_they_read(analytics: Stub, profile: str) -> None:
    rule = create(analytics, profile)
    changed = rule_message(profile, {**OVERHEATING, "name": "spindle too hot"})
    update = pb.UpdateAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id, expected_version=1, rule=changed)
    updated = analytics.UpdateAlarmRule(update)
    assert (updated.version, updated.name) == (2, "spindle too hot")
    assert code_of(lambda: analytics.UpdateAlarmRule(update)) == grpc.StatusCode.ABORTED
    stale = pb.DeleteAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id, expected_version=1)
    assert code_of(lambda: analytics.DeleteAlarmRule(stale)) == grpc.StatusCode.ABORTED
    analytics.DeleteAlarmRule(
        pb.DeleteAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id, expected_version=2)
    )
    gone = pb.GetAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id)
    assert code_of(lambda: analytics.GetAlarmRule(gone)) == grpc.StatusCode.NOT_FOUND


def test_another_tenants_rules_and_profiles_are_out_of_reach(
    analytics: Stub, registry: ProfileRegistry, profile: str
) -> None:
    rule = create(analytics, profile)
    stranger = str(uuid.uuid4())
    calls = [
        lambda: analytics.GetAlarmRule(pb.GetAlarmRuleRequest(tenant_id=stranger, rule_id=rule.id)),
        lambda: analytics.UpdateAlarmRule(
            pb.UpdateAlarmRuleRequest(
                tenant_id=stranger,
                rule_id=rule.id,
                expected_version=1,
                rule=rule_message(profile, OVERHEATING),
            )
        ),
        lambda: analytics.DeleteAlarmRule(
            pb.DeleteAlarmRuleRequest(tenant_id=stranger, rule_id=rule.id, expected_version=1)
        ),
    ]
    for call in calls:
        assert code_of(call) == grpc.StatusCode.NOT_FOUND
    assert not analytics.ListAlarmRules(pb.ListAlarmRulesRequest(tenant_id=stranger)).rules
    assert violations(lambda: create(analytics, profile, tenant=stranger)) == {
        "rule.profile_id": "no such profile"
    }
    assert analytics.GetAlarmRule(pb.GetAlarmRuleRequest(tenant_id=TENANT, rule_id=rule.id)).version == 1


def _trigger(**trigger: Any) -> dict[str, Any]:
    return {**OVERHEATING, "create": [{"severity": "major", "trigger": trigger}], "clear": {}}


def _predicate(**predicate: Any) -> dict[str, Any]:
    return _trigger(kind="simple", condition={"predicates": [predicate]})


NUMBER = {"number": 1}
FIELD = "rule.create.0.trigger"
PREDICATE = f"{FIELD}.condition.predicates.0"
HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "unknown channel": (
        _predicate(channel="nope", operator="gt", value=NUMBER),
        f"{PREDICATE}.channel",
    ),
    "number for a string": (
        _predicate(channel="program", operator="eq", value=NUMBER),
        f"{PREDICATE}.value",
    ),
    "text for a number": (
        _predicate(channel="spindle_temp", operator="eq", value={"text": "hot"}),
        f"{PREDICATE}.value",
    ),
    "enum value not allowed": (
        _predicate(channel="mode", operator="eq", value={"text": "TURBO"}),
        f"{PREDICATE}.value",
    ),
    "order on a bool": (
        _predicate(channel="door_open", operator="gt", value={"flag": True}),
        f"{PREDICATE}.operator",
    ),
    "range without upper": (
        _predicate(channel="spindle_temp", operator="inside", value=NUMBER),
        f"{PREDICATE}.upper",
    ),
    "reversed range": (
        _predicate(channel="spindle_temp", operator="inside", value={"number": 9}, upper=NUMBER),
        f"{PREDICATE}.upper",
    ),
    "no operand": (_predicate(channel="spindle_temp", operator="gt"), f"{PREDICATE}.value"),
    "no operator": (_predicate(channel="spindle_temp", value=NUMBER), f"{PREDICATE}.operator"),
    "undefined operator": (
        _predicate(channel="spindle_temp", operator=99, value=NUMBER),
        f"{PREDICATE}.operator",
    ),
    "not a number": (
        _predicate(channel="spindle_temp", operator="gt", value={"number": "NaN"}),
        f"{PREDICATE}.value.number",
    ),
    "empty condition": (
        _trigger(kind="simple", condition={"combinator": "all"}),
        f"{FIELD}.condition",
    ),
    "no condition": (_trigger(kind="simple"), f"{FIELD}.condition"),
    "zero duration": (
        _trigger(kind="duration", seconds=0, condition=above("spindle_temp", 1)),
        f"{FIELD}.seconds",
    ),
    "duration over 30 days": (
        _trigger(kind="duration", seconds=30 * 86400 + 1, condition=above("spindle_temp", 1)),
        f"{FIELD}.seconds",
    ),
    "negative count": (
        _trigger(kind="repeating", count=-1, condition=above("spindle_temp", 1)),
        f"{FIELD}.count",
    ),
    "no kind": (_trigger(condition=above("spindle_temp", 1)), f"{FIELD}.kind"),
    "no data with a condition": (
        _trigger(kind="no_data", seconds=60, condition=above("spindle_temp", 1)),
        f"{FIELD}.condition",
    ),
    "no data on an unknown channel": (
        _trigger(kind="no_data", seconds=60, channel="nope"),
        f"{FIELD}.channel",
    ),
    "anomaly on an unknown channel": (_trigger(kind="anomaly", channel="nope"), f"{FIELD}.channel"),
    "anomaly on a string channel": (_trigger(kind="anomaly", channel="program"), f"{FIELD}.channel"),
    "anomaly on a bool channel": (_trigger(kind="anomaly", channel="door_open"), f"{FIELD}.channel"),
    "anomaly without a channel": (_trigger(kind="anomaly"), f"{FIELD}.channel"),
    "anomaly with a condition": (
        _trigger(kind="anomaly", channel="spindle_temp", condition=above("spindle_temp", 1)),
        f"{FIELD}.condition",
    ),
    "a threshold of zero": (
        _trigger(kind="anomaly", channel="spindle_temp", detector={"threshold": 0}),
        f"{FIELD}.detector.threshold",
    ),
    "no warm-up": (
        _trigger(kind="anomaly", channel="spindle_temp", detector={"warmup": 0}),
        f"{FIELD}.detector.warmup",
    ),
    "stuck after one reading": (
        _trigger(kind="anomaly", channel="spindle_temp", detector={"stuck_readings": 1}),
        f"{FIELD}.detector.stuck_readings",
    ),
    "a detector on another kind": (
        _trigger(kind="simple", condition=above("spindle_temp", 1), detector={"warmup": 20}),
        f"{FIELD}.detector",
    ),
    "anomaly as a clear trigger": (
        {**VIBRATING, "clear": {"trigger": {"kind": "anomaly", "channel": "spindle_temp"}}},
        "rule.clear.trigger.kind",
    ),
    "33 predicates": (
        _trigger(kind="simple", condition={"predicates": above("spindle_temp", 1)["predicates"] * 33}),
        f"{FIELD}.condition",
    ),
    "groups 5 deep": (
        _trigger(
            kind="simple",
            condition={"groups": [{"groups": [{"groups": [{"groups": [above("spindle_temp", 1)]}]}]}]},
        ),
        f"{FIELD}.condition.groups.0.groups.0.groups.0.groups.0",
    ),
    "two conditions of one severity": (
        {**OVERHEATING, "create": [OVERHEATING["create"][1]] * 2},
        "rule.create",
    ),
    "no create condition": ({**OVERHEATING, "create": []}, "rule.create"),
    "no severity": (
        {**OVERHEATING, "create": [{"trigger": OVERHEATING["create"][1]["trigger"]}]},
        "rule.create.0.severity",
    ),
    "no data as a clear trigger": (
        {**OVERHEATING, "clear": {"trigger": {"kind": "no_data", "seconds": 5}}},
        "rule.clear.trigger.kind",
    ),
    "no name": ({**OVERHEATING, "name": ""}, "rule.name"),
    "a name of control characters": ({**OVERHEATING, "name": "\x00\x1b[2J"}, "rule.name"),
    "17 labels": ({**OVERHEATING, "labels": {f"k{i}": "v" for i in range(17)}}, "rule.labels"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_definitions_are_refused_naming_their_field(analytics: Stub, profile: str, case: str) -> None:
    definition, field = HOSTILE[case]
    found = violations(lambda: create(analytics, profile, definition))
    assert field in found, found
    assert not analytics.ListAlarmRules(pb.ListAlarmRulesRequest(tenant_id=TENANT)).rules


def test_malformed_ids_are_refused(analytics: Stub, profile: str) -> None:
    assert violations(lambda: create(analytics, "not-a-uuid")) == {"rule.profile_id": "must be a UUID"}
    assert violations(lambda: create(analytics, profile, tenant="x")) == {"tenant_id": "must be a UUID"}
    bad = pb.GetAlarmRuleRequest(tenant_id=TENANT, rule_id="1; drop table alarm_rules")
    assert violations(lambda: analytics.GetAlarmRule(bad)) == {"rule_id": "must be a UUID"}
