"""What a newcomer to `make run` does: sign in to the console as the simulated factory's
first admin, with the e-mail and password the simulator prints, and see its machines
report."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from gantry.v1 import people_pb2_grpc
from playwright.sync_api import Page, expect

from tests.browser.conftest import check_page, console_url
from tests.support.platform import OPERATOR_TOKEN, Platform
from tools.simulate import MACHINES, open_factory, stream

LIVE_TIMEOUT_MS = 15_000


def test_the_simulated_factorys_admin_signs_in_and_sees_its_machines_report(
    page: Page, platform: Platform, platform_people: people_pb2_grpc.PeopleServiceStub, tmp_path: Path
) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(http, platform_people, OPERATOR_TOKEN, tmp_path / "simulated-factory.json")
        stream(http, factory, ticks=1)

    console = console_url(platform)
    page.goto(f"{console}/sign-in")
    page.get_by_label("E-mail address").fill(factory.admin_email)
    page.get_by_label("Password").fill(factory.admin_password)
    page.get_by_role("button", name="Sign in").last.click()
    expect(page).to_have_url(f"{console}/overview")

    page.goto(f"{console}/devices")
    for number in range(1, MACHINES + 1):
        expect(page.get_by_role("link", name=f"VMC-{number:03d}")).to_be_visible()
    check_page(page, "console-simulated-factory-devices-en")
    page.get_by_role("link", name="VMC-001").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Machining centre 1")
    # The reading the simulator sent is there, and the page follows the machine's stream.
    expect(page.locator('tr[data-channel="spindle_temp"] .value')).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
    expect(page.locator("#latest")).to_have_attribute(
        "data-updated", re.compile(r"^\d+$"), timeout=LIVE_TIMEOUT_MS
    )
    check_page(page, "console-simulated-factory-machine-en")
