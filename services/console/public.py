"""The pages anyone may see: the start page, and the language switch."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.i18n import LOCALE_COOKIE, LOCALES
from services.console.pages import Pages
from services.console.security import Cookies

LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
FORM_LIMIT_BYTES = 4096


def routes(pages: Pages, cookies: Cookies) -> list[Route]:
    async def start(request: Request) -> Response:
        return pages.render(request, "start.html")

    async def switch_language(request: Request) -> Response:
        form = await small_form(request)
        locale = form.get("locale", "")
        if locale not in LOCALES:
            raise HTTPException(400, "unknown language")
        response = RedirectResponse(_local_path(form.get("next", "/")), status_code=303)
        cookies.set(response, LOCALE_COOKIE, locale, LANGUAGE_COOKIE_SECONDS)
        return response

    return [
        Route("/", start, name="start"),
        Route("/language", switch_language, methods=["POST"], name="language"),
    ]


async def small_form(request: Request, limit_bytes: int = FORM_LIMIT_BYTES) -> dict[str, str]:
    """An urlencoded form of a few fields, each field's first value."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise HTTPException(415, "a form is expected")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit_bytes:
            raise HTTPException(413, "form too large")
    try:
        fields = parse_qs(body.decode(), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "malformed form") from None
    return {name: values[0] for name, values in fields.items()}


def _local_path(target: str) -> str:
    """Where to go back to after the switch: a path of this console only, never another
    site (`//host`, `/\\host` and schemes would leave it)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/"
