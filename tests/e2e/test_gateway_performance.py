"""Machine models, site calendars and performance figures through the partner API, on the
whole platform: created with If-None-Match, replaced and deleted with If-Match; bodies
that make no sense refused naming their field; readings a device sent turned into the
figures of its hour, its site and the fleet; nothing of one tenant within another's reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.test_gateway_alarms import ANALYTICS, PROBLEM
from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually

SITE = "Werk Süd"
SITE_PATH = quote(SITE)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Every hour of every day planned, in two shifts.
ROUND_THE_CLOCK = {
    "zone": "UTC",
    "week": {
        day: [
            {"name": "am", "start": "00:00", "end": "12:00"},
            {"name": "pm", "start": "12:00", "end": "00:00"},
        ]
        for day in WEEKDAYS
    },
}
# The test profile's mode channel: idle, cutting or alarm.
MODEL = {
    "states": {
        "channel": "mode",
        "values": [{"value": "cutting", "category": "producing"}, {"value": "alarm", "category": "fault"}],
        "default": "idle",
    },
    "ideal_cycle_seconds": 30,
    # The readings below come every quarter hour or so; a real machine, every second.
    "max_gap_seconds": 3600,
}
CREATE = {"If-None-Match": "*"}


@dataclass
class Tenant:
    admin: PartnerClient
    analyst: PartnerClient
    profile_id: str
    device_id: str


def _tenant(platform: Platform, name: str) -> Tenant:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    admin = operator.as_tenant(operator.create_tenant(name)["api_key"])
    registered = admin.http.post("/v1/devices", json={**admin.device_body(), "site": SITE})
    assert registered.status_code == 201, registered.text
    created = admin.http.post("/v1/api-keys", json={"name": "analyst", "scopes": ANALYTICS})
    assert created.status_code == 201, created.text
    device = registered.json()
    return Tenant(admin, admin.as_tenant(created.json()["secret"]), device["profile_id"], device["id"])


@pytest.fixture(scope="module")
def tenant(platform: Platform) -> Tenant:
    return _tenant(platform, "Performing Works")


@pytest.fixture(scope="module")
def stranger(platform: Platform) -> Tenant:
    return _tenant(platform, "Stranger Performing Works")


def definition_of(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without the fields of its record: the body of its replacement."""
    record = ("tenant_id", "profile_id", "site", "version", "created_at", "updated_at")
    return {key: value for key, value in answer.items() if key not in record}


def test_a_model_is_created_read_replaced_and_deleted_by_etag(tenant: Tenant) -> None:
    http = tenant.analyst.http
    # A profile of its own: the tenant's device's profile keeps its model for the figures.
    url = f"/v1/machine-models/{tenant.admin.create_profile()['id']}"
    assert http.put(url, json=MODEL).status_code == 428
    created = http.put(url, json=MODEL, headers=CREATE)
    assert created.status_code == 201, created.text
    model = created.json()
    assert (created.headers["etag"], created.headers["location"], model["version"]) == ('"1"', url, 1)
    assert model["states"]["values"][0] == {"value": "cutting", "category": "producing"}
    assert (model["produced"], model["ideal_cycle_seconds"], model["max_gap_seconds"]) == (None, 30, 3600)
    assert http.put(url, json=MODEL, headers=CREATE).status_code == 412
    read = http.get(url)
    assert (read.json(), read.headers["etag"]) == (model, '"1"')
    assert model in http.get("/v1/machine-models").json()["items"]

    body = definition_of(model) | {"ideal_cycle_seconds": 42.5}
    replaced = http.put(url, json=body, headers={"If-Match": '"1"'})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["version"], replaced.json()["ideal_cycle_seconds"], replaced.headers["etag"]) == (
        2,
        42.5,
        '"2"',
    )
    stale = http.put(url, json=body, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.headers["content-type"]) == (412, PROBLEM)
    assert http.delete(url).status_code == 428
    assert http.delete(url, headers={"If-Match": '"1"'}).status_code == 412
    deleted = http.delete(url, headers={"If-Match": '"2"'})
    assert (deleted.status_code, deleted.json()["version"]) == (200, 3)
    assert http.get(url).status_code == 404


def test_a_calendar_is_created_read_replaced_and_deleted_by_etag(tenant: Tenant) -> None:
    http = tenant.analyst.http
    url = f"/v1/site-calendars/{quote('Halle 3 Nord')}"
    calendar = {
        **ROUND_THE_CLOCK,
        "holidays": ["2026-12-25"],
        "exceptions": [{"date": "2026-12-24", "shifts": []}],
    }
    created = http.put(url, json=calendar, headers=CREATE)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert (answer["site"], answer["zone"], answer["holidays"]) == ("Halle 3 Nord", "UTC", ["2026-12-25"])
    assert answer["week"]["monday"] == ROUND_THE_CLOCK["week"]["monday"]
    assert http.get(url).json() == answer
    assert answer in http.get("/v1/site-calendars").json()["items"]
    replaced = http.put(
        url, json=definition_of(answer) | {"zone": "Europe/Berlin"}, headers={"If-Match": "*"}
    )
    assert (replaced.status_code, replaced.json()["version"]) == (200, 2), replaced.text
    deleted = http.delete(url, headers={"If-Match": '"2"'})
    assert (deleted.status_code, deleted.json()["version"]) == (200, 3)
    assert http.get(url).status_code == 404


HOSTILE: dict[str, tuple[str, dict[str, Any], str]] = {
    "an unknown channel": (
        "model",
        {**MODEL, "states": {**MODEL["states"], "channel": "coolant"}},
        "states.channel",
    ),
    "a value the enum does not allow": (
        "model",
        {**MODEL, "states": {**MODEL["states"], "values": [{"value": "turbo", "category": "producing"}]}},
        "states.values.0.value",
    ),
    "a value that is a list": (
        "model",
        {**MODEL, "states": {**MODEL["states"], "values": [{"value": [1], "category": "producing"}]}},
        "states.values.0.value",
    ),
    "a float counter's wrap as text": (
        "model",
        {**MODEL, "produced": {"channel": "spindle_temp", "wraps_at": "64k"}},
        "produced.wraps_at",
    ),
    "an unknown zone": ("calendar", {**ROUND_THE_CLOCK, "zone": "Mars/Olympus_Mons"}, "zone"),
    "a shift not on a quarter hour": (
        "calendar",
        {"zone": "UTC", "week": {"monday": [{"name": "early", "start": "06:10", "end": "14:00"}]}},
        "week.monday.0.start",
    ),
    "a bad date": ("calendar", {"zone": "UTC", "holidays": ["2026-02-30"]}, "holidays.0"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_bodies_are_refused_naming_their_field(tenant: Tenant, case: str) -> None:
    kind, body, field = HOSTILE[case]
    # A profile of its own, never given a model.
    url = (
        f"/v1/machine-models/{tenant.admin.create_profile()['id']}"
        if kind == "model"
        else "/v1/site-calendars/hostile"
    )
    response = tenant.analyst.http.put(url, json=body, headers=CREATE)
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM), response.text
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert tenant.analyst.http.get(url).status_code == 404


def hour_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def first_hour(tenant: Tenant) -> datetime:
    """An hour three hours ago, on the hour, in which the device cut for 45 minutes with a
    15-minute fault between; sent until analytics has learned of the device and its model."""
    http = tenant.analyst.http
    assert http.put(f"/v1/machine-models/{tenant.profile_id}", json=MODEL, headers=CREATE).status_code == 201
    assert (
        http.put(f"/v1/site-calendars/{SITE_PATH}", json=ROUND_THE_CLOCK, headers=CREATE).status_code == 201
    )
    start = hour_start(datetime.now(UTC)) - timedelta(hours=3)
    modes = [(0, "cutting"), (30, "alarm"), (45, "cutting"), (60, "idle"), (90, "idle")]
    samples = [
        {"ts": int((start + timedelta(minutes=minutes)).timestamp() * 1000), "values": {"mode": mode}}
        for minutes, mode in modes
    ]

    def tracked() -> datetime | None:
        sent = tenant.admin.http.post(
            "/v1/telemetry", json={"devices": [{"device_id": tenant.device_id, "samples": samples}]}
        )
        assert sent.status_code == 200, sent.text
        periods = report(tenant, f"/v1/devices/{tenant.device_id}/performance", start)
        return start if periods[0]["inputs"]["apt"] else None

    return eventually(tracked, timeout=30, what="the device's readings to be tracked")


def report(tenant: Tenant, path: str, start: datetime, **query: str) -> list[dict[str, Any]]:
    params = {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "granularity": "hour",
    }
    response = tenant.analyst.http.get(path, params=params | query)
    assert response.status_code == 200, response.text
    return response.json()["periods"]


def test_the_device_its_site_and_the_fleet_answer_their_figures(tenant: Tenant, first_hour: datetime) -> None:
    paths = [f"/v1/devices/{tenant.device_id}/performance", f"/v1/sites/{SITE_PATH}/performance"]
    for path in paths:
        first, _ = report(tenant, path, first_hour)
        assert first["start"] == first_hour.isoformat().replace("+00:00", "Z") and first["shift"] == ""
        assert (first["inputs"]["pbt"], first["inputs"]["apt"], first["inputs"]["adot"]) == (3600, 2700, 900)
        assert (first["inputs"]["failures"], first["inputs"]["restorations"]) == (1, 1)
        figures = first["figures"]
        assert (figures["availability"], figures["mtbf_seconds"], figures["mttr_seconds"]) == (
            0.75,
            2700,
            900,
        )
        # No parts counted: quality, and so OEE, are undefined.
        assert (figures["quality_ratio"], figures["oee"]) == (None, None)
    fleet = tenant.analyst.http.get(
        "/v1/performance",
        params={
            "start": first_hour.isoformat(),
            "end": (first_hour + timedelta(days=1)).isoformat(),
            "granularity": "day",
            "zone": "Asia/Tokyo",
        },
    )
    assert fleet.status_code == 200, fleet.text
    assert fleet.json()["zone"] == "Asia/Tokyo"
    assert sum(day["inputs"]["apt"] for day in fleet.json()["periods"]) == 2700
    shifts = report(tenant, paths[1], first_hour, granularity="shift")
    assert {shift["shift"] for shift in shifts} <= {"am", "pm"} and shifts


def test_a_report_query_that_makes_no_sense_is_refused_naming_its_parameter(tenant: Tenant) -> None:
    http = tenant.analyst.http
    now = datetime.now(UTC)
    base = {"start": now.isoformat(), "end": (now + timedelta(hours=1)).isoformat(), "granularity": "hour"}
    cases = [
        ("/v1/performance", base | {"granularity": "fortnight"}, "granularity"),
        ("/v1/performance", base | {"zone": "Atlantis"}, "zone"),
        ("/v1/performance", base | {"end": base["start"]}, "end"),
        ("/v1/performance", {"granularity": "day"}, "start"),
        (f"/v1/devices/{tenant.device_id}/performance", base | {"zone": "UTC"}, "zone"),
    ]
    for path, params, field in cases:
        response = http.get(path, params=params)
        assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM), response.text
        assert field in [error["field"] for error in response.json()["errors"]], response.json()


def test_another_tenant_s_models_calendars_and_machines_are_out_of_reach(
    tenant: Tenant, stranger: Tenant, first_hour: datetime
) -> None:
    model_url = f"/v1/machine-models/{tenant.profile_id}"
    calendar_url = f"/v1/site-calendars/{SITE_PATH}"
    for method, url, body in (
        ("GET", model_url, None),
        ("PUT", model_url, MODEL),
        ("DELETE", model_url, None),
    ):
        # A DELETE without If-Match is refused before anything is looked up (428).
        for headers in ({"If-Match": '"1"'}, {"If-Match": "*"}, *([CREATE] if method == "PUT" else [])):
            response = stranger.analyst.http.request(method, url, json=body, headers=headers)
            assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM), (
                method,
                headers,
            )
    for method in ("GET", "DELETE"):
        assert (
            stranger.analyst.http.request(method, calendar_url, headers={"If-Match": "*"}).status_code == 404
        )
    assert stranger.analyst.http.get("/v1/machine-models").json()["items"] == []
    assert stranger.analyst.http.get("/v1/site-calendars").json()["items"] == []
    params = {
        "start": first_hour.isoformat(),
        "end": (first_hour + timedelta(hours=1)).isoformat(),
        "granularity": "hour",
    }
    # The stranger's own device in a site of that name: their figures count nothing of ours.
    assert report(stranger, f"/v1/sites/{SITE_PATH}/performance", first_hour)[0]["inputs"]["apt"] == 0
    device = stranger.analyst.http.get(f"/v1/devices/{tenant.device_id}/performance", params=params)
    assert (device.status_code, device.headers["content-type"]) == (404, PROBLEM)
    unknown = stranger.analyst.http.get(f"/v1/sites/{quote('Nowhere')}/performance", params=params)
    assert unknown.status_code == 404
    assert tenant.analyst.http.get(model_url).json()["version"] == 1
    assert tenant.analyst.http.get(calendar_url).json()["version"] == 1


def test_reading_and_writing_need_the_analytics_scopes(tenant: Tenant) -> None:
    created = tenant.admin.http.post("/v1/api-keys", json={"name": "reader", "scopes": ["analytics:read"]})
    reader = tenant.admin.as_tenant(created.json()["secret"])
    assert reader.http.get("/v1/machine-models").status_code == 200
    refused = reader.http.put(
        f"/v1/site-calendars/{SITE_PATH}", json=ROUND_THE_CLOCK, headers={"If-Match": "*"}
    )
    assert (refused.status_code, refused.json()["type"]) == (403, "urn:gantry:problem:insufficient-scope")


def test_a_machine_s_measured_capacity_shows_how_it_spent_each_hour_of_the_week(
    tenant: Tenant, stranger: Tenant, first_hour: datetime
) -> None:
    answer = tenant.analyst.http.get(f"/v1/devices/{tenant.device_id}/capacity")
    assert answer.status_code == 200, answer.text
    measured = answer.json()
    assert (measured["device_id"], measured["zone"], len(measured["hours"])) == (tenant.device_id, "UTC", 168)
    end = datetime.fromisoformat(measured["end"])
    assert end - datetime.fromisoformat(measured["start"]) == timedelta(weeks=4)
    hours = {(hour["weekday"], hour["hour"]): hour for hour in measured["hours"]}
    # The first hour's 45 minutes producing and 15 faulted, averaged over the four weeks.
    slot = hours[(first_hour.weekday(), first_hour.hour)]
    assert (slot["producing_seconds"], slot["down_seconds"]) == (2700 / 4, 900 / 4)
    assert measured["inputs"]["apt"] == 2700 and measured["figures"]["mtbf_seconds"] == 2700
    assert measured["utilisation"] == 2700 / 4 / (168 * 3600)
    refused = stranger.analyst.http.get(f"/v1/devices/{tenant.device_id}/capacity")
    assert (refused.status_code, refused.headers["content-type"]) == (404, PROBLEM)
