"""The pages anyone may see: the start page, and the language switch."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.forms import local_path, read_form
from services.console.i18n import LOCALE_COOKIE, LOCALES
from services.console.pages import Pages
from services.console.security import Cookies

LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def routes(pages: Pages, cookies: Cookies) -> list[Route]:
    async def start(request: Request) -> Response:
        return pages.render(request, "start.html")

    async def switch_language(request: Request) -> Response:
        form = await read_form(request)
        locale = form.get("locale", "")
        if locale not in LOCALES:
            raise HTTPException(400, "unknown language")
        response = RedirectResponse(local_path(form.get("next", "/")), status_code=303)
        cookies.set(response, LOCALE_COOKIE, locale, LANGUAGE_COOKIE_SECONDS)
        return response

    return [
        Route("/", start, name="start"),
        Route("/language", switch_language, methods=["POST"], name="language"),
    ]
