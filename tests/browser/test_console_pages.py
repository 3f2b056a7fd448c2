"""The console's public pages in a browser, in English and in Chinese."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import Servers, Watch, check_page

CHINESE_HEADING = "您的设备、设备数据和闲置工时，尽在一处"  # noqa: RUF001 - Chinese punctuation


def test_the_start_page_in_english(page: Page, servers: Servers) -> None:
    page.goto(servers.console)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your machines, their data and their idle hours, in one place"
    )
    docs = page.get_by_role("link", name="Read the API reference")
    expect(docs).to_have_attribute("href", f"{servers.gateway}/docs")
    check_page(page, "console-start-en")


def test_the_start_page_in_chinese_from_the_browsers_language(
    open_page: Callable[[str], Page], servers: Servers
) -> None:
    page = open_page("zh-CN")
    page.goto(servers.console)
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text(CHINESE_HEADING)
    check_page(page, "console-start-zh")


def test_the_language_switch_keeps_its_choice(page: Page, servers: Servers, watch: Watch) -> None:
    page.goto(servers.console)
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(CHINESE_HEADING)
    expect(page.get_by_role("button", name="简体中文")).to_have_attribute("aria-pressed", "true")
    cookie = next(c for c in page.context.cookies() if c["name"] == "gantry_locale")
    assert cookie["value"] == "zh_Hans_CN"
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    # The browser reported its zone, for dates.
    assert any(c["name"] == "gantry_tz" and c["value"] == "Asia%2FShanghai" for c in page.context.cookies())
    watch.expected_failures.add(f"{servers.console}/nowhere")
    page.goto(f"{servers.console}/nowhere")
    expect(page.get_by_role("heading", level=1)).to_have_text("此页面不存在")
    check_page(page, "console-not-found-zh")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This page does not exist")
