"""A profile's alarm rules edited in a browser, on the whole platform: a rule's threshold
lowered takes effect on the next readings, a wrong value is marked at its field, a rule is
created and deleted by its forms."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch, check_page, console_url, signed_in
from tests.support.plant import PlantTenant, plant_tenant
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def plant(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Rule Works")


def test_a_lowered_threshold_raises_an_alarm_on_the_next_readings(
    page: Page, platform: Platform, plant: PlantTenant, watch: Watch
) -> None:
    rule = plant.overheating_rule("warm spindle")
    device = plant.partner.register_device("RULE-0001")
    rules_page = f"{console_url(platform)}/device-profiles/{plant.partner.profile_id()}/alarm-rules"
    watch.expected_failures.add(f"{rules_page}/{rule['id']}")
    signed_in(page, platform, plant.admin.session_token)
    page.goto(rules_page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Alarm rules of VMC-850")
    page.get_by_text("Change warm spindle").click()
    value = page.locator(f"#edit-{rule['id']}-create-0-value")
    expect(value).to_have_value("90")
    # A value the float channel cannot take is marked where it was entered.
    value.fill("warm")
    page.get_by_role("button", name="Save the rule").click()
    expect(page.get_by_role("alert")).to_have_text("Some fields need correcting.")
    expect(page.locator(f"#edit-{rule['id']}-create-0-value-error")).to_have_text(
        "Enter a value of the channel's type."
    )
    check_page(page, "console-alarm-rules-refused-en")
    page.locator(f"#edit-{rule['id']}-create-0-value").fill("50")
    page.get_by_role("button", name="Save the rule").click()
    expect(page.get_by_role("status")).to_contain_text("Rule changed")
    expect(page.locator("section.rule")).to_contain_text("version 2")
    check_page(page, "console-alarm-rules-en")
    alarm = plant.alarm_of(device["id"], spindle_temp=60.0)
    assert (alarm["name"], alarm["rule_version"]) == ("warm spindle", 2)


def test_a_rule_created_and_deleted_by_its_forms(page: Page, platform: Platform, plant: PlantTenant) -> None:
    signed_in(page, platform, plant.admin.session_token)
    page.goto(f"{console_url(platform)}/device-profiles/{plant.partner.profile_id()}/alarm-rules")
    new = page.locator("section", has=page.get_by_role("heading", name="New rule"))
    new.get_by_label("Name").fill("cold spindle")
    new.locator("#new-create-0-severity").select_option("warning")
    new.locator("#new-create-0-channel").select_option("spindle_temp")
    new.locator("#new-create-0-operator").select_option("lt")
    new.locator("#new-create-0-value").fill("5")
    new.locator("#new-create-0-kind").select_option("duration")
    new.locator("#new-create-0-seconds").fill("120")
    new.get_by_role("button", name="Create the rule").click()
    expect(page.get_by_role("status")).to_contain_text("Rule created")
    expect(page.locator("section.rule", has_text="cold spindle")).to_contain_text("for 120 s")
    listed = plant.partner.http.get("/v1/alarm-rules", params={"profile_id": plant.partner.profile_id()})
    (created,) = [rule for rule in listed.json()["items"] if rule["name"] == "cold spindle"]
    assert created["create"][0]["trigger"]["seconds"] == 120
    page.get_by_role("button", name="Delete cold spindle").click()
    expect(page.get_by_role("status")).to_contain_text("Rule deleted")
    assert plant.partner.http.get(f"/v1/alarm-rules/{created['id']}").status_code == 404


def test_the_rules_page_in_chinese(
    open_page: Callable[[str], Page], platform: Platform, plant: PlantTenant
) -> None:
    page = signed_in(open_page("zh-CN"), platform, plant.admin.session_token)
    page.goto(f"{console_url(platform)}/device-profiles/{plant.partner.profile_id()}/alarm-rules")
    expect(page.get_by_role("heading", name="新建规则")).to_be_visible()
    check_page(page, "console-alarm-rules-zh")
