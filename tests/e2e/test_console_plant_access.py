"""The console's plant pages over HTTP on the whole platform, with real sessions: one
tenant's devices, series, live values and alarms are another's 404; a viewer reads and
cannot act; stored input renders escaped; the device list pages by the registry's cursor."""

from __future__ import annotations

import re
import time
from html import unescape

import grpc
import httpx
import pytest

from tests.support.plant import PlantTenant, console_client, console_url, operator, plant_tenant
from tests.support.platform import Platform

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def plant(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Plant Works")


@pytest.fixture(scope="module")
def other(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Other Works")


@pytest.fixture(scope="module")
def alarmed(plant: PlantTenant) -> tuple[str, dict]:
    """A device of `plant` (with a hostile name and label) and the alarm its hot spindle raised."""
    body = plant.partner.device_body()
    body.update(display_name=XSS, labels={"line": XSS})
    created = plant.partner.http.post("/v1/devices", json=body)
    assert created.status_code == 201, created.text
    device_id = created.json()["id"]
    plant.overheating_rule(name=f"overheat {XSS}")
    return device_id, plant.alarm_of(device_id, spindle_temp=95.5)


def _form(member_csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": member_csrf, **fields}


def test_another_tenants_device_series_live_and_alarm_are_not_found(
    platform: Platform, other: PlantTenant, alarmed: tuple[str, dict]
) -> None:
    device_id, alarm = alarmed
    now = int(time.time())
    with console_client(console_url(platform), other.admin) as intruder:
        assert intruder.get(f"/devices/{device_id}").status_code == 404
        series = intruder.get(
            f"/devices/{device_id}/series", params={"channel": "spindle_temp", "from": now - 3600, "to": now}
        )
        assert series.status_code == 404
        assert series.headers["content-type"] == "application/problem+json"
        assert intruder.get(f"/devices/{device_id}/live").status_code == 404
        acknowledged = intruder.post(
            f"/alarms/{alarm['id']}/acknowledge",
            data=_form(other.admin.csrf_token),
            headers={"HX-Request": "true"},
        )
        assert acknowledged.status_code == 404
        assert device_id not in intruder.get("/alarms", params={"status": "all"}).text
        assert device_id not in intruder.get("/devices").text


def test_a_viewer_reads_but_cannot_acknowledge_or_issue_tokens(
    platform: Platform, plant: PlantTenant, alarmed: tuple[str, dict]
) -> None:
    device_id, alarm = alarmed
    with console_client(console_url(platform), plant.viewer) as viewer:
        page = viewer.get(f"/devices/{device_id}")
        assert page.status_code == 200
        assert "Issue an access token" not in page.text
        assert viewer.get("/alarms").status_code == 200
        form = _form(plant.viewer.csrf_token)
        assert viewer.post(f"/alarms/{alarm['id']}/acknowledge", data=form).status_code == 403
        assert viewer.post(f"/devices/{device_id}/tokens", data=form).status_code == 403
    # The alarm is as it was.
    assert plant.partner.http.get(f"/v1/alarms/{alarm['id']}").json()["status"] == "active_unacknowledged"


def test_forms_without_the_sessions_token_are_refused(
    platform: Platform, plant: PlantTenant, alarmed: tuple[str, dict]
) -> None:
    device_id, alarm = alarmed
    with console_client(console_url(platform), plant.admin) as admin:
        assert (
            admin.post(f"/alarms/{alarm['id']}/acknowledge", data={"csrf_token": "forged"}).status_code == 403
        )
        assert admin.post(f"/devices/{device_id}/tokens", data={"note": "no token"}).status_code == 403


def test_an_admin_issues_a_token_shown_once(
    platform: Platform, plant: PlantTenant, alarmed: tuple[str, dict]
) -> None:
    device_id, _alarm = alarmed
    with console_client(console_url(platform), plant.admin) as admin:
        issued = admin.post(f"/devices/{device_id}/tokens", data=_form(plant.admin.csrf_token))
        assert issued.status_code == 200
        token = re.search(r'<code id="issued-token">([^<]+)</code>', issued.text)
        assert token and token.group(1).startswith("gdt_")
        assert token.group(1) not in admin.get(f"/devices/{device_id}").text
    # The token works for the device's own API.
    answer = httpx.post(
        f"{platform.gateway_url}/api/v1/{token.group(1)}/telemetry", json={"spindle_temp": 40}
    )
    assert answer.status_code == 200


def test_stored_input_renders_escaped(
    platform: Platform, plant: PlantTenant, alarmed: tuple[str, dict]
) -> None:
    device_id, alarm = alarmed
    with console_client(console_url(platform), plant.admin) as admin:
        commented = admin.post(
            f"/alarms/{alarm['id']}/comment",
            data=_form(plant.admin.csrf_token, text=XSS),
            headers={"HX-Request": "true"},
        )
        assert commented.status_code == 200
        pages = [
            admin.get(f"/devices/{device_id}").text,
            admin.get("/devices").text,
            admin.get("/alarms", params={"status": "all"}).text,
            commented.text,
        ]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html
    assert XSS in unescape(pages[3])


def test_the_device_list_pages_both_ways_by_the_registrys_cursors(
    platform: Platform, plant: PlantTenant
) -> None:
    serials = [f"PAGE-{index:04d}" for index in range(120)]
    body = {
        "devices": [plant.partner.device_body(serial) | {"labels": {"batch": "paging"}} for serial in serials]
    }
    created = plant.partner.http.post("/v1/devices/bulk", json=body)
    assert created.status_code == 201, created.text

    def walk(url: str | None, rel: str) -> tuple[list[list[str]], str]:
        """The pages from `url` following `rel` links, and the URL of the last one."""
        pages, last = [], ""
        while url:
            page = viewer.get(url)
            assert page.status_code == 200
            assert "Devices found: 120" in page.text
            pages.append(re.findall(r">(PAGE-\d{4})</a>", page.text))
            last = url
            found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page.text)
            url = unescape(found.group(1)) if found else None
        return pages, last

    with console_client(console_url(platform), plant.viewer) as viewer:
        forwards, last = walk("/devices?label=batch%3Dpaging", "next")
        assert [serial for page in forwards for serial in page] == serials
        assert [len(page) for page in forwards] == [50, 50, 20]
        backwards, _first = walk(last, "prev")
        assert backwards == forwards[::-1]
        assert viewer.get("/devices", params={"cursor": "not-a-cursor"}).status_code == 400
        assert viewer.get("/devices", params={"before": "not-a-cursor"}).status_code == 400
        assert viewer.get("/devices", params={"state": "melting"}).status_code == 400


def test_bad_chart_ranges_are_precise_problems(
    platform: Platform, plant: PlantTenant, alarmed: tuple[str, dict]
) -> None:
    device_id, _alarm = alarmed
    with console_client(console_url(platform), plant.viewer) as viewer:
        backwards = viewer.get(
            f"/devices/{device_id}/series", params={"channel": "spindle_temp", "from": 10, "to": 5}
        )
        assert backwards.status_code == 400
        assert backwards.json()["title"] == "to must be after from"
        unknown = viewer.get(f"/devices/{device_id}/series", params={"channel": "nope", "from": 0, "to": 60})
        assert unknown.status_code == 400
        assert viewer.get("/devices/not-a-uuid").status_code == 404


def test_pages_need_a_session(platform: Platform) -> None:
    answer = httpx.get(f"{console_url(platform)}/devices")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fdevices"


def test_an_operator_has_no_plant_to_see(platform: Platform, registry_channel: grpc.Channel) -> None:
    with console_client(console_url(platform), operator(registry_channel)) as operator_session:
        assert operator_session.get("/devices").status_code == 403
        assert operator_session.get("/overview").status_code == 403


def test_a_hostile_reading_in_an_alarms_details_renders_escaped(
    platform: Platform, plant: PlantTenant
) -> None:
    profile = plant.partner.http.post(
        "/v1/device-profiles", json={"name": "Notes", "channels": [{"key": "note", "value_type": "string"}]}
    )
    assert profile.status_code == 201, profile.text
    device = plant.partner.http.post(
        "/v1/devices",
        json={"serial_number": "NOTE-0001", "display_name": "Notes", "profile_id": profile.json()["id"]},
    )
    assert device.status_code == 201, device.text
    device_id = device.json()["id"]
    predicate = {"channel": "note", "operator": "eq", "value": {"text": XSS}}
    rule = {
        "profile_id": profile.json()["id"],
        "name": "hostile note",
        "create": [
            {"severity": "minor", "trigger": {"kind": "simple", "condition": {"predicates": [predicate]}}}
        ],
    }
    assert plant.partner.http.post("/v1/alarm-rules", json=rule).status_code == 201
    plant.alarm_of(device_id, note=XSS)
    with console_client(console_url(platform), plant.viewer) as viewer:
        html = viewer.get("/alarms", params={"status": "all", "device": device_id}).text
    details = re.search(r'<code class="raised-by">([^<]*)</code>', html)
    assert details and "&lt;script&gt;alert(" in details.group(1)
    assert "<script>alert" not in html and "<img src=x" not in html


def test_the_live_stream_sends_the_latest_values_as_they_change(
    platform: Platform, plant: PlantTenant, alarmed: tuple[str, dict]
) -> None:
    device_id, _alarm = alarmed
    with (
        console_client(console_url(platform), plant.viewer) as viewer,
        viewer.stream("GET", f"/devices/{device_id}/live", timeout=20) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = (line for line in stream.iter_lines() if line.startswith("data: "))
        first = next(events)
        assert '"channel":"spindle_temp"' in first
        plant.send(device_id, spindle_temp=61.75)
        # Each poll (2 s) either sends the change or a comment: the change comes within a few.
        assert '"value":"61.75"' in next(events)
