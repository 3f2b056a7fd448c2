"""Alarm rules and alarms through the partner API, on the whole platform: rules checked
against the profile, guarded by If-Match and refused field by field; readings that break
a rule raise an alarm, which people acknowledge, comment and clear; nothing of one tenant
within another's reach."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually

PROBLEM = "application/problem+json"
ANALYTICS = ["analytics:read", "analytics:write"]
HOT = {"channel": "spindle_temp", "operator": "gt", "value": {"number": 90}}
CONDITION = "create.0.trigger.condition"


def nested(depth: int) -> dict[str, Any]:
    """A condition whose predicate is `depth` levels down."""
    condition: dict[str, Any] = {"predicates": [HOT]}
    for _ in range(depth - 1):
        condition = {"groups": [condition]}
    return condition


def definition(condition: Any = None, **fields: Any) -> dict[str, Any]:
    trigger = {"kind": "simple", "condition": condition or {"predicates": [HOT]}}
    return {"name": "spindle overheating", "create": [{"severity": "major", "trigger": trigger}], **fields}


def triggered(**trigger: Any) -> dict[str, Any]:
    """A definition whose trigger holds these fields."""
    body = definition()
    body["create"][0]["trigger"].update(trigger)
    return body


@dataclass
class Tenant:
    admin: PartnerClient
    # A key of the analytics scopes alone, which acts on alarms.
    analyst: PartnerClient
    analyst_key_id: str
    profile_id: str
    device_id: str

    def rule_body(self, condition: Any = None, **fields: Any) -> dict[str, Any]:
        return {"profile_id": self.profile_id, **definition(condition, **fields)}

    def create_rule(self, condition: Any = None, **fields: Any) -> dict[str, Any]:
        response = self.analyst.http.post("/v1/alarm-rules", json=self.rule_body(condition, **fields))
        assert response.status_code == 201, response.text
        return response.json()

    def key(self, *scopes: str) -> tuple[str, PartnerClient]:
        created = self.admin.http.post("/v1/api-keys", json={"name": "key", "scopes": list(scopes)})
        assert created.status_code == 201, created.text
        key = created.json()
        return key["id"], self.admin.as_tenant(key["secret"])


def _tenant(platform: Platform, name: str) -> Tenant:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    admin = operator.as_tenant(operator.create_tenant(name)["api_key"])
    device = admin.register_device()
    tenant = Tenant(admin, admin, "", device["profile_id"], device["id"])
    tenant.analyst_key_id, tenant.analyst = tenant.key(*ANALYTICS)
    return tenant


@pytest.fixture(scope="module")
def tenant(platform: Platform) -> Tenant:
    return _tenant(platform, "Alarming Works")


@pytest.fixture(scope="module")
def stranger(platform: Platform) -> Tenant:
    return _tenant(platform, "Stranger Works")


def test_a_rule_is_created_read_listed_replaced_and_deleted_by_version(tenant: Tenant) -> None:
    http = tenant.analyst.http
    sent, once = tenant.rule_body(labels={"line": "L1"}), {"Idempotency-Key": "rule-1"}
    created = http.post("/v1/alarm-rules", json=sent, headers=once)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert http.post("/v1/alarm-rules", json=sent, headers=once).json() == rule
    assert (created.headers["location"], created.headers["etag"]) == (f"/v1/alarm-rules/{rule['id']}", '"1"')
    assert (rule["version"], rule["profile_id"], rule["labels"]) == (1, tenant.profile_id, {"line": "L1"})
    assert rule["create"][0]["severity"] == "major"
    assert rule["create"][0]["trigger"]["condition"]["predicates"][0]["operator"] == "gt"
    read = http.get(created.headers["location"])
    assert (read.json(), read.headers["etag"]) == (rule, '"1"')
    other = tenant.create_rule()

    of_profile = {"profile_id": tenant.profile_id}
    first = http.get("/v1/alarm-rules", params={**of_profile, "limit": 1}).json()
    rest = http.get("/v1/alarm-rules", params={**of_profile, "cursor": first["next_cursor"]}).json()
    listed = {item["id"] for item in first["items"] + rest["items"]}
    assert {rule["id"], other["id"]} <= listed and len(first["items"]) == 1

    url = f"/v1/alarm-rules/{rule['id']}"
    # The answer's definition, changed, is the body of its replacement.
    body = {key: rule[key] for key in ("name", "labels", "create", "clear")} | {"name": "spindle hot"}
    assert http.put(url, json=body).status_code == 428
    replaced = http.put(url, json=body, headers={"If-Match": '"1"'})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["version"], replaced.json()["name"], replaced.headers["etag"]) == (
        2,
        "spindle hot",
        '"2"',
    )
    stale = http.put(url, json=body, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.headers["content-type"]) == (412, PROBLEM)
    assert http.put(url, json={**body, "profile_id": tenant.profile_id}, headers={"If-Match": "*"}).json()[
        "errors"
    ] == [{"field": "profile_id", "message": "Unknown field."}]

    assert http.delete(url).status_code == 428
    assert http.delete(url, headers={"If-Match": '"1"'}).status_code == 412
    deleted = http.delete(url, headers={"If-Match": '"2"'})
    assert (deleted.status_code, deleted.json()["version"]) == (200, 3)
    assert http.get(url).status_code == 404


UNKNOWN = {**HOT, "channel": "coolant_level"}


def test_an_anomaly_rule_is_created_with_its_detector_and_replaced_as_answered(tenant: Tenant) -> None:
    http = tenant.analyst.http
    trigger = {"kind": "anomaly", "channel": "spindle_temp", "detector": {"threshold": 6, "kinds": ["spike"]}}
    body = {**tenant.rule_body(), "create": [{"severity": "minor", "trigger": trigger}]}
    created = http.post("/v1/alarm-rules", json={**body, "clear": {"unmet_for_seconds": 60}})
    assert created.status_code == 201, created.text
    rule = created.json()
    answered = rule["create"][0]["trigger"]
    assert (answered["kind"], answered["channel"], answered["condition"]) == ("anomaly", "spindle_temp", None)
    assert answered["detector"] == {"threshold": 6.0, "warmup": 150, "stuck_readings": 60, "kinds": ["spike"]}
    url = f"/v1/alarm-rules/{rule['id']}"
    replacement = {key: rule[key] for key in ("name", "labels", "create", "clear")}
    replaced = http.put(url, json=replacement, headers={"If-Match": '"1"'})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["create"] == rule["create"]
    # The module's later tests count the alarms of their own rules alone.
    assert http.delete(url, headers={"If-Match": '"2"'}).status_code == 200


def anomalous(**trigger: Any) -> dict[str, Any]:
    return {**definition(), "create": [{"severity": "minor", "trigger": {"kind": "anomaly", **trigger}}]}


HOSTILE: dict[str, tuple[Any, str]] = {
    "unknown channel": (definition({"predicates": [UNKNOWN]}), f"{CONDITION}.predicates.0.channel"),
    "text for a float channel": (
        definition({"predicates": [{**HOT, "value": {"text": "hot"}}]}),
        f"{CONDITION}.predicates.0.value",
    ),
    "enum value not allowed": (
        definition({"predicates": [{"channel": "mode", "operator": "eq", "value": {"text": "turbo"}}]}),
        f"{CONDITION}.predicates.0.value",
    ),
    "groups 5 deep": (definition(nested(5)), f"{CONDITION}{'.groups.0' * 4}"),
    "groups 300 deep": (definition(nested(300)), f"{CONDITION}{'.groups.0' * 4}"),
    "33 predicates": (definition({"predicates": [HOT] * 33}), CONDITION),
    "33 predicates in groups": (
        definition({"predicates": [HOT] * 17, "groups": [{"predicates": [HOT] * 16}]}),
        CONDITION,
    ),
    "a huge name": (definition(name="x" * 100_000), "name"),
    "a huge channel": (
        definition({"predicates": [{**HOT, "channel": "c" * 100_000}]}),
        f"{CONDITION}.predicates.0.channel",
    ),
    "a name of control characters": (definition(name="\x00\x1b[2J"), "name"),
    "a name that is a number": (definition(name=42), "name"),
    "a number that is text": (
        definition({"predicates": [{**HOT, "value": {"number": "ninety"}}]}),
        f"{CONDITION}.predicates.0.value.number",
    ),
    "create that is an object": ({**definition(), "create": {"severity": "major"}}, "create"),
    "seconds that is text": (triggered(kind="duration", seconds="60"), "create.0.trigger.seconds"),
    "an unknown severity": (
        {**definition(), "create": [{"severity": "apocalyptic", "trigger": {}}]},
        "create.0.severity",
    ),
    "an unknown field": ({**definition(), "colour": "red"}, "colour"),
    "an unknown field in a predicate": (
        definition({"predicates": [{**HOT, "unit": "degC"}]}),
        f"{CONDITION}.predicates.0.unit",
    ),
    "two kinds of operand": (
        definition({"predicates": [{**HOT, "value": {"number": 1, "flag": True}}]}),
        f"{CONDITION}.predicates.0.value",
    ),
    "17 labels": (definition(labels={f"k{i}": "v" for i in range(17)}), "labels"),
    "a duration of zero": (triggered(kind="duration", seconds=0), "create.0.trigger.seconds"),
    "no data with a condition": (triggered(kind="no_data", seconds=60), "create.0.trigger.condition"),
    "anomaly on an enum channel": (anomalous(channel="mode"), "create.0.trigger.channel"),
    "anomaly with a threshold of zero": (
        anomalous(channel="spindle_temp", detector={"threshold": 0}),
        "create.0.trigger.detector.threshold",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_rule_bodies_are_refused_naming_their_field(tenant: Tenant, case: str) -> None:
    body, field = HOSTILE[case]
    before = rule_ids(tenant)
    response = tenant.analyst.http.post("/v1/alarm-rules", json={"profile_id": tenant.profile_id, **body})
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM), response.text
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert rule_ids(tenant) == before


def rule_ids(tenant: Tenant) -> set[str]:
    listed = tenant.analyst.http.get("/v1/alarm-rules", params={"limit": 1000}).json()
    return {rule["id"] for rule in listed["items"]}


def test_bodies_that_are_no_rule_at_all_are_refused(tenant: Tenant) -> None:
    http = tenant.analyst.http
    for content in (b"[]", b'"rule"', b"{", b"{" * 5000 + b"}" * 5000):
        response = http.post("/v1/alarm-rules", content=content, headers={"content-type": "application/json"})
        assert (response.status_code, response.json()["type"]) == (400, "urn:gantry:problem:malformed-json")
    unknown_profile = http.post("/v1/alarm-rules", json={**definition(), "profile_id": tenant.device_id})
    assert unknown_profile.json()["errors"] == [{"field": "profile_id", "message": "no such profile"}]
    assert (
        http.post(
            "/v1/alarm-rules", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"}
        ).status_code
        == 413
    )


def test_rules_and_alarms_need_the_analytics_scopes(platform: Platform, tenant: Tenant) -> None:
    rule = tenant.create_rule()
    url = f"/v1/alarm-rules/{rule['id']}"
    _, reader = tenant.key("analytics:read")
    _, devices = tenant.key("devices:read", "devices:write")
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    assert reader.http.get(url).status_code == 200
    assert reader.http.get("/v1/alarms").status_code == 200
    assert reader.http.get("/v1/overview").status_code == 200
    writes = [
        ("POST", "/v1/alarm-rules", tenant.rule_body()),
        ("PUT", url, definition()),
        ("DELETE", url, None),
        ("POST", f"/v1/alarms/{rule['id']}/acknowledge", None),
        ("POST", f"/v1/alarms/{rule['id']}/clear", None),
        ("POST", f"/v1/alarms/{rule['id']}/comments", {"text": "seen"}),
    ]
    for method, path, body in writes:
        refused = reader.http.request(method, path, json=body, headers={"If-Match": '"1"'})
        assert (refused.status_code, refused.json()["type"]) == (403, "urn:gantry:problem:insufficient-scope")
    for path in (url, "/v1/alarm-rules", "/v1/alarms", "/v1/overview"):
        assert devices.http.get(path).status_code == 403
        assert operator.http.get(path).json()["detail"] == "this route needs a tenant's API key"
    assert tenant.analyst.http.get(url).json()["version"] == 1


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def send(tenant: Tenant, values: dict[str, Any]) -> None:
    body = {"devices": [{"device_id": tenant.device_id, "samples": [{"ts": now_ms(), "values": values}]}]}
    response = tenant.admin.http.post("/v1/telemetry", json=body)
    assert response.status_code == 200, response.text


def alarms(tenant: Tenant, **query: Any) -> list[dict[str, Any]]:
    response = tenant.analyst.http.get("/v1/alarms", params=query)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture(scope="module")
def alarm(tenant: Tenant) -> dict[str, Any]:
    """An alarm raised by readings that break a rule: sent until telemetry and analytics
    have learned of the device, as each does from the registry's events."""
    rule = tenant.create_rule()

    def raised() -> dict[str, Any] | None:
        send(tenant, {"spindle_temp": 97.5, "mode": "cutting"})
        return next(iter(alarms(tenant, rule_id=rule["id"])), None)

    return eventually(raised, timeout=30, what="the alarm to be raised")


def test_readings_that_break_a_rule_raise_an_alarm_people_act_on(
    tenant: Tenant, alarm: dict[str, Any]
) -> None:
    assert (alarm["status"], alarm["severity"], alarm["device_id"]) == (
        "active_unacknowledged",
        "major",
        tenant.device_id,
    )
    assert alarm["raised_by"]["spindle_temp"] == 97.5 and alarm["cleared_at"] is None
    url = f"/v1/alarms/{alarm['id']}"
    assert tenant.analyst.http.get(url).json() == alarm
    for query in (
        {"status": "active_unacknowledged,active_acknowledged"},
        {"active": "true", "severity": ["major", "critical"]},
        {"device_id": tenant.device_id, "started_after": alarm["started_at"]},
    ):
        assert alarm["id"] in [a["id"] for a in alarms(tenant, **query)], query
    for query in ({"active": "false"}, {"started_before": alarm["started_at"]}):
        assert alarms(tenant, rule_id=alarm["rule_id"], **query) == [], query

    http = tenant.analyst.http
    acknowledged = http.post(f"{url}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    assert (acknowledged.json()["status"], acknowledged.json()["acknowledged_by"]) == (
        "active_acknowledged",
        tenant.analyst_key_id,
    )
    assert http.post(f"{url}/acknowledge").status_code == 409
    commented = http.post(f"{url}/comments", json={"text": "coolant low\nrefilled"})
    assert commented.status_code == 201, commented.text
    (comment,) = commented.json()["comments"]
    assert (comment["author"], comment["text"]) == (tenant.analyst_key_id, "coolant low\nrefilled")
    for hostile in ({"text": ""}, {"text": "x" * 2001}, {"text": "\x00"}, {"text": 7}, {}):
        assert http.post(f"{url}/comments", json=hostile).json()["errors"][0]["field"] == "text"
    cleared = http.post(f"{url}/clear").json()
    assert (cleared["status"], cleared["cleared_by"]) == ("cleared_acknowledged", tenant.analyst_key_id)
    assert cleared["cleared_at"] is not None and len(cleared["comments"]) == 1
    assert http.post(f"{url}/clear").status_code == 409
    assert alarm["id"] in [a["id"] for a in alarms(tenant, status="cleared_acknowledged")]


def test_another_tenants_rules_and_alarms_are_out_of_reach(
    tenant: Tenant, stranger: Tenant, alarm: dict[str, Any]
) -> None:
    rule_url = f"/v1/alarm-rules/{alarm['rule_id']}"
    alarm_url = f"/v1/alarms/{alarm['id']}"
    before = (tenant.analyst.http.get(rule_url).json(), tenant.analyst.http.get(alarm_url).json())
    probes = [
        ("GET", rule_url, None),
        ("PUT", rule_url, definition()),
        ("DELETE", rule_url, None),
        ("GET", alarm_url, None),
        ("POST", f"{alarm_url}/acknowledge", None),
        ("POST", f"{alarm_url}/clear", None),
        ("POST", f"{alarm_url}/comments", {"text": "mine now"}),
    ]
    for method, url, body in probes:
        for if_match in ('"1"', "*"):
            response = stranger.analyst.http.request(method, url, json=body, headers={"If-Match": if_match})
            assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM), (method, url)
    assert stranger.analyst.http.get("/v1/alarm-rules").json()["items"] == []
    assert (
        stranger.analyst.http.get("/v1/alarm-rules", params={"profile_id": tenant.profile_id}).json()["items"]
        == []
    )
    for query in ({}, {"rule_id": alarm["rule_id"]}, {"device_id": tenant.device_id}):
        assert alarms(stranger, **query) == []
    on_their_profile = stranger.analyst.http.post("/v1/alarm-rules", json=tenant.rule_body())
    assert on_their_profile.json()["errors"] == [{"field": "profile_id", "message": "no such profile"}]
    assert stranger.analyst.http.get("/v1/overview").json()["active_alarms_by_severity"]["major"] == 0
    assert (tenant.analyst.http.get(rule_url).json(), tenant.analyst.http.get(alarm_url).json()) == before


def test_the_overview_counts_devices_alarms_and_readings(tenant: Tenant, alarm: dict[str, Any]) -> None:
    def counted() -> dict[str, Any] | None:
        overview = tenant.analyst.http.get("/v1/overview").json()
        return overview if overview["readings_accepted_last_hour"] else None

    overview = eventually(counted, what="the alarm's readings to be counted")
    assert sum(overview["devices_by_state"].values()) == 1
    assert set(overview["active_alarms_by_severity"]) == {"critical", "major", "minor", "warning"}
    assert overview["readings_accepted_last_day"] >= overview["readings_accepted_last_hour"]
