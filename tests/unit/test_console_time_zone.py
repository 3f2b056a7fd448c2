"""The reader's time zone, as console.js reports it in its cookie (URL-encoded)."""

from __future__ import annotations

import zoneinfo

from starlette.requests import Request

from services.console.i18n import load_languages
from services.console.pages import Pages
from services.kit.web_assets import HashedFiles


def _pages() -> Pages:
    return Pages(load_languages(), HashedFiles("/static", []), "UTC", {})


def _request(cookie: bytes) -> Request:
    return Request({"type": "http", "headers": [(b"cookie", cookie)]})


def test_the_zone_console_js_reports_is_the_pages_zone() -> None:
    zone = _pages().time_zone_of(_request(b"gantry_tz=Asia%2FShanghai"))
    assert zone == zoneinfo.ZoneInfo("Asia/Shanghai")


def test_a_zone_it_does_not_know_falls_back_to_the_default() -> None:
    assert _pages().time_zone_of(_request(b"gantry_tz=Mars%2FOlympus")) == zoneinfo.ZoneInfo("UTC")
