"""`/docs`: the interactive reference of the OpenAPI document, Swagger UI served by the
gateway itself (vendored from npm, see `services/kit/web_assets.py`), so that it works on a
plant network without internet, under a policy that runs no inline script or style."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from services.gateway.openapi import OPENAPI_PATH
from services.kit.web_assets import VENDOR_DIR, HashedFiles

ASSETS_PREFIX = "/docs/assets"

# Swagger UI needs nothing inline: it draws its icons as data: images and calls the API
# (its "Try it out") on this origin only.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gantry partner API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{css}"><link rel="stylesheet" href="{contrast}"></head>
<body><main id="api-reference" data-url="{openapi}"></main>
<script src="{bundle}"></script><script src="{start}"></script></body></html>"""


def routes() -> list[BaseRoute]:
    """The page and its files, read once as the gateway starts."""
    files = HashedFiles(ASSETS_PREFIX, [("", VENDOR_DIR), ("", Path(__file__).parent / "docs_static")])
    page = PAGE.format(
        css=files.url("swagger-ui.css"),
        contrast=files.url("docs.css"),
        openapi=OPENAPI_PATH,
        bundle=files.url("swagger-ui-bundle.js"),
        start=files.url("docs.js"),
    )

    async def docs(request: Request) -> Response:
        return HTMLResponse(page, headers=HEADERS)

    return [Route("/docs", docs), files.mount()]
