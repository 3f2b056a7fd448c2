"""The console's application as a browser meets it: security headers on every answer,
cookies, the language switch, versioned static files, error pages in the layout."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from services.console.app import create_app
from services.console.security import Cookies
from services.console.settings import ConsoleSettings
from services.kit.settings import SERVICES
from tests.support.platform import free_port

SETTINGS = ConsoleSettings(
    "127.0.0.1", 0, True, "http://gateway.test/docs", "Asia/Shanghai", "http://console.test"
)


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(SETTINGS)

    async def boom(request: object) -> None:
        raise RuntimeError("a page that fails")

    # A failing page, to see the 500 page; the wrapped Starlette app is the headers' inner app.
    app.app.router.routes.append(Route("/boom", boom))  # type: ignore[attr-defined]
    yield TestClient(
        app, base_url="https://console.test", raise_server_exceptions=False, follow_redirects=False
    )


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    start = client.get("/")
    asset = re.search(r'href="(/static/[^"]+/console\.css)"', start.text)
    assert asset
    for response in (
        start,
        client.get("/nowhere"),
        client.get("/boom"),
        client.get(asset[1]),
        client.get("/healthz"),
    ):
        policy = response.headers["content-security-policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ):
            assert directive in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_the_start_page_says_what_gantry_is_and_links_to_the_docs(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "Sell idle capacity" in page.text
    assert 'href="http://gateway.test/docs"' in page.text
    assert 'href="/sign-in"' in page.text
    assert page.headers["vary"] == "Accept-Language, Cookie"


def test_chinese_from_the_browser_or_from_the_switch(client: TestClient) -> None:
    by_header = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-Hans-CN">' in by_header.text
    assert "出售闲置产能" in by_header.text
    assert by_header.headers["content-language"] == "zh-Hans-CN"

    switched = client.post("/language", data={"locale": "zh_Hans_CN", "next": "/"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("gantry_locale=zh_Hans_CN;")
    for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
        assert attribute in cookie
    assert "出售闲置产能" in client.get("/", headers={"Accept-Language": "en"}).text


@pytest.mark.parametrize(
    "target", ["//evil.test/", "https://evil.test/", "/\\evil.test", "javascript:alert(1)"]
)
def test_the_switch_never_sends_the_reader_to_another_site(client: TestClient, target: str) -> None:
    switched = client.post("/language", data={"locale": "en", "next": target})
    assert switched.headers["location"] == "/"


def test_the_switch_refuses_what_it_does_not_know_in_the_layout(client: TestClient) -> None:
    unknown = client.post("/language", data={"locale": "xx"})
    assert unknown.status_code == 400
    assert "<h1>The request could not be understood</h1>" in unknown.text
    assert client.post("/language", json={"locale": "en"}).status_code == 415
    assert (
        client.post(
            "/language",
            content=b"a=" + b"x" * 5000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status_code
        == 413
    )
    wrong_method = client.get("/language")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"


def test_error_pages_are_in_the_layout_and_the_readers_language(client: TestClient) -> None:
    missing = client.get("/nowhere", headers={"Accept-Language": "zh-CN"})
    assert missing.status_code == 404
    assert "此页面不存在" in missing.text
    assert 'class="site-header"' in missing.text
    failed = client.get("/boom")
    assert failed.status_code == 500
    assert "Something went wrong on our side" in failed.text
    assert "a page that fails" not in failed.text


def test_static_files_are_versioned_by_their_content(client: TestClient) -> None:
    page = client.get("/").text
    htmx = re.search(r'src="(/static/([0-9a-f]{16})/vendor/htmx\.min\.js)"', page)
    assert htmx
    current = client.get(htmx[1])
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert current.headers["content-type"].startswith("text/javascript")
    # Another version's URL still gets the file, but no browser may keep it as that version.
    other = client.get(htmx[1].replace(htmx[2], "0" * 16))
    assert other.status_code == 200
    assert other.headers["cache-control"] == "no-cache"
    # Only the files read at start are served: names are looked up, never joined to a path.
    assert client.get(f"/static/{htmx[2]}/app.py").status_code == 404


def test_cookies_may_drop_secure_only_when_told() -> None:
    from starlette.responses import Response

    for secure in (True, False):
        response = Response()
        Cookies(secure).set(response, "name", "value", 60, same_site="strict")
        header = response.headers["set-cookie"]
        assert "HttpOnly" in header and "SameSite=strict" in header
        assert ("Secure" in header) is secure


def test_liveness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readiness_names_each_backend_that_does_not_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in SERVICES:
        monkeypatch.setenv(f"GANTRY_{service.upper()}_GRPC_TARGET", f"127.0.0.1:{free_port()}")
    with TestClient(create_app(SETTINGS)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "checks": dict.fromkeys(SERVICES, "UNAVAILABLE")}
