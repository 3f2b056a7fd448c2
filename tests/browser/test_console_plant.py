"""The plant pages in a browser, on the whole platform, signed in with real sessions:
devices listed, a device's live values and chart, an alarm acknowledged, Chinese."""

from __future__ import annotations

import re
from collections.abc import Callable

import grpc
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import check_page, console_url, signed_in
from tests.support.plant import PlantTenant, plant_tenant
from tests.support.platform import Platform

LIVE_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def plant(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Browser Works")


@pytest.fixture(scope="module")
def machine(plant: PlantTenant) -> dict:
    """A machine of the plant with a first reading."""
    device = plant.partner.register_device("MILL-0001")
    plant.send(device["id"], spindle_temp=41.5)
    return device


def test_the_devices_a_device_its_live_values_and_its_chart(
    page: Page, platform: Platform, plant: PlantTenant, machine: dict
) -> None:
    signed_in(page, platform, plant.admin.session_token)
    page.goto(f"{console_url(platform)}/devices")
    expect(page.get_by_role("heading", level=1)).to_have_text("Devices")
    check_page(page, "console-devices-en")
    page.get_by_role("link", name="MILL-0001").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mill")
    value = page.locator('tr[data-channel="spindle_temp"] .value')
    expect(value).to_have_text("41.5")
    # The page follows its stream before a new reading comes.
    # (An attribute the page sets, as a string evaluated in the page would break its CSP.)
    expect(page.locator("#latest")).to_have_attribute(
        "data-updated", re.compile(r"^\d+$"), timeout=LIVE_TIMEOUT_MS
    )
    plant.send(machine["id"], spindle_temp=57.25)
    expect(value).to_have_text("57.25", timeout=LIVE_TIMEOUT_MS)
    # The chart of the last hour, drawn as the page opened, from the page's JSON.
    expect(page.locator("#chart canvas")).to_be_visible()
    points = int(page.locator("#chart").get_attribute("data-points") or "0")
    assert points >= 1
    page.get_by_label("Last day").check()
    with page.expect_response(lambda r: "/series?" in r.url) as answer:
        page.get_by_role("button", name="Draw").click()
    series = answer.value.json()
    assert series["bucket_seconds"] == 300 and series["avg"][-1] is not None
    check_page(page, "console-device-en")


def test_an_alarm_acknowledged_from_the_list(page: Page, platform: Platform, plant: PlantTenant) -> None:
    device = plant.partner.register_device("MILL-0002")
    plant.overheating_rule()
    alarm = plant.alarm_of(device["id"], spindle_temp=96.0)
    signed_in(page, platform, plant.admin.session_token)
    page.goto(f"{console_url(platform)}/alarms")
    row = page.locator(f"#alarm-{alarm['id']}")
    expect(row).to_contain_text("Active, unacknowledged")
    check_page(page, "console-alarms-en")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(f"#alarm-{alarm['id']}")).to_contain_text("Active, acknowledged")
    assert plant.partner.http.get(f"/v1/alarms/{alarm['id']}").json()["status"] == "active_acknowledged"


def test_the_alarm_lists_refresh_waits_for_a_comment_being_typed(
    page: Page, platform: Platform, plant: PlantTenant
) -> None:
    device = plant.partner.register_device("MILL-0003")
    plant.overheating_rule("typed over")
    alarm = plant.alarm_of(device["id"], spindle_temp=97.0)
    refreshes: list[str] = []
    page.on(
        "request", lambda request: refreshes.append(request.url) if "/alarms/rows" in request.url else None
    )
    # The page's timers run on a clock the test moves: ten seconds pass at once.
    page.clock.install()
    signed_in(page, platform, plant.admin.session_token)
    page.goto(f"{console_url(platform)}/alarms")
    comment = page.locator(f"#alarm-{alarm['id']}").get_by_placeholder("Comment")
    comment.fill("checking the coolant")
    page.clock.run_for(25_000)
    assert refreshes == []
    expect(comment).to_have_value("checking the coolant")
    # Sent, the comment is the row's; with no field busy, the rows are asked for again.
    with page.expect_response(lambda r: "/comment" in r.url):
        page.locator(f"#alarm-{alarm['id']}").get_by_role("button", name="Add").click()
    page.get_by_role("heading", level=1).click()
    with page.expect_request(lambda r: "/alarms/rows" in r.url):
        page.clock.run_for(11_000)
    expect(page.locator(f"#alarm-{alarm['id']} .comments")).to_contain_text("checking the coolant")


def test_the_overview_and_a_switch_to_chinese(
    open_page: Callable[[str], Page], platform: Platform, plant: PlantTenant, machine: dict
) -> None:
    page = signed_in(open_page("en-US"), platform, plant.viewer.session_token)
    page.goto(f"{console_url(platform)}/overview")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    check_page(page, "console-overview-en")
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    check_page(page, "console-overview-zh")
    page.goto(f"{console_url(platform)}/devices/{machine['id']}")
    expect(page.get_by_role("heading", name="最新数值")).to_be_visible()
    expect(page.locator("#chart canvas")).to_be_visible()
    check_page(page, "console-device-zh")
