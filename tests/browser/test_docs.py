"""The gateway's /docs in a browser with no way out to the internet."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, Watch, check_page


def test_the_api_reference_renders_offline_with_its_operations(page: Page, servers: Servers) -> None:
    response = page.goto(f"{servers.gateway}/docs")
    assert response is not None and response.ok
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    # Every operation of the OpenAPI document is listed, e.g. device registration.
    assert operations.count() > 50
    expect(page.locator(".opblock-post .opblock-summary-path", has_text="/v1/devices").first).to_be_visible()
    expect(page.get_by_role("heading", name="Gantry partner API")).to_be_visible()
    check_page(page, "gateway-docs")


def test_the_fence_refuses_what_would_leave_the_machine(page: Page, watch: Watch) -> None:
    """The route handler that proves the pages above load nothing from the internet does
    refuse it: a page of another host never reaches the network."""
    with pytest.raises(PlaywrightError, match="ERR_BLOCKED_BY_CLIENT"):
        page.goto("https://cdn.jsdelivr.net/npm/swagger-ui-dist/")
    assert watch.outside == ["https://cdn.jsdelivr.net/npm/swagger-ui-dist/"]
    watch.outside.clear()
