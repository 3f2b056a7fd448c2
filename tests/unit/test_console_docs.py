"""The gateway's /docs: the API reference's page and files, all from the gateway itself."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings


def test_docs_load_nothing_from_another_origin_and_run_no_inline_code() -> None:
    client = TestClient(create_app(GatewaySettings("127.0.0.1", 0, "token", 5)))
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    assert "<script>" not in page.text and "<style" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy and "frame-ancestors 'none'" in policy

    files = re.findall(r"(?:src|href)=\"(/docs/assets/[0-9a-f]{16}/[^\"]+)\"", page.text)
    assert {path.rsplit("/", 1)[1] for path in files} == {
        "swagger-ui.css",
        "docs.css",
        "swagger-ui-bundle.js",
        "docs.js",
    }
    for path in files:
        served = client.get(path)
        assert served.status_code == 200
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert 'data-url="/v1/openapi.json"' in page.text
