"""The console's ASGI application."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from services.console import admin, market, people, plant, public
from services.console.forms import FormTokens
from services.console.i18n import load_languages
from services.console.mail import Mailer, MailSettings
from services.console.pages import Pages
from services.console.people.account import EnrolmentGate
from services.console.people.context import PeopleContext
from services.console.security import Cookies, SecurityHeaders
from services.console.settings import ConsoleSettings
from services.kit.grpc_clients import Backends
from services.kit.http import probe_routes
from services.kit.web_assets import VENDOR_DIR, HashedFiles

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def create_app(config: ConsoleSettings | None = None) -> ASGIApp:
    config = config or ConsoleSettings.from_env()
    backends = Backends()
    assets = HashedFiles("/static", [("", STATIC_DIR), ("vendor/", VENDOR_DIR)])
    routes: list[BaseRoute] = []
    pages = Pages(
        load_languages(),
        assets,
        config.time_zone,
        # Links to pages that do not exist yet are left out of the templates.
        {"api_docs_url": config.api_docs_url, "has_page": lambda name: _has_route(routes, name)},
    )
    cookies = Cookies(config.secure_cookies)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        response = pages.render(request, "error.html", error.status_code, status=error.status_code)
        response.headers.update(error.headers or {})  # e.g. a 405's Allow
        return response

    async def server_error(request: Request, error: Exception) -> Response:
        try:
            return pages.render(request, "error.html", 500, status=500)
        except Exception:
            log.exception("the error page itself failed")
            return PlainTextResponse("Internal Server Error", 500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        backends.open()
        yield
        await backends.close()

    routes += [
        *public.routes(pages, cookies),
        *people.routes(
            PeopleContext(
                pages,
                cookies,
                backends,
                Mailer(MailSettings.from_env()),
                FormTokens(cookies),
                config.public_url,
            )
        ),
        *plant.routes(backends, pages),
        *market.routes(backends, pages),
        *admin.routes(backends, pages),
        *probe_routes(backends),
        assets.mount(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(EnrolmentGate, backends=backends)],
        exception_handlers={HTTPException: http_error, 500: server_error},
    )
    # Outside Starlette's own error handling, so that its error pages get the headers too.
    return SecurityHeaders(app)


def _has_route(routes: list[BaseRoute], name: str) -> bool:
    return any(getattr(route, "name", None) == name for route in routes)
