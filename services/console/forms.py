"""Forms of the console's pages: reading a small urlencoded body, where a form may send the
reader afterwards, and the CSRF token of forms filled before anyone is signed in."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from services.console.security import Cookies

FORM_LIMIT_BYTES = 4096
# Forms without a session (sign-in, sign-up, invitations, password resets) carry this
# cookie's value in a hidden field: a site that cannot read the cookie cannot forge them.
FORM_COOKIE = "gantry_form"
FORM_COOKIE_SECONDS = 3600
FORM_TOKEN_FIELD = "form_token"
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


async def read_form(
    request: Request, max_fields: int = 8, limit_bytes: int = FORM_LIMIT_BYTES
) -> dict[str, str]:
    """An urlencoded form of a few fields, each field's first value."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise HTTPException(415, "a form is expected")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit_bytes:
            raise HTTPException(413, "form too large")
    try:
        fields = parse_qs(body.decode(), max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "malformed form") from None
    return {name: values[0] for name, values in fields.items()}


def local_path(target: str, fallback: str = "/") -> str:
    """Where to go back to: a path of this console only, never another site (`//host`,
    `/\\host` and schemes would leave it; browsers drop tabs and line breaks, so `/<tab>/host`
    is `//host` to them)."""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return fallback


def client_address(request: Request) -> str:
    """The reader's address, as uvicorn resolved it (X-Forwarded-For of the proxies it
    trusts, `FORWARDED_ALLOW_IPS`), for the registry's throttles."""
    return request.client.host if request.client else ""


class FormTokens:
    """The double-submit token of forms filled before a session exists."""

    def __init__(self, cookies: Cookies) -> None:
        self.cookies = cookies

    def token_of(self, request: Request) -> str:
        """The browser's token if it has one, else a new one (set by `keep`)."""
        brought = request.cookies.get(FORM_COOKIE, "")
        return brought if len(brought) == _TOKEN_LENGTH else secrets.token_urlsafe(32)

    def keep(self, response: Response, token: str) -> Response:
        # Strict: no other site's page makes the browser send it.
        self.cookies.set(response, FORM_COOKIE, token, FORM_COOKIE_SECONDS, same_site="strict")
        return response

    def check(self, request: Request, form: dict[str, str]) -> None:
        """Refuses (403) a form whose hidden token is not the cookie's."""
        brought = request.cookies.get(FORM_COOKIE, "")
        submitted = form.get(FORM_TOKEN_FIELD, "")
        if not brought or not hmac.compare_digest(brought.encode(), submitted.encode()):
            raise HTTPException(403, "the form's token does not match")
