"""Who is signed in: the session cookie, resolved by the registry's PeopleService on every
request (no cache, so that a disabled user's pages stop at once), and the CSRF token every
form of a signed-in person carries."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import grpc
from gantry.v1 import people_pb2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.kit.grpc_clients import Backends

SESSION_COOKIE = "gantry_session"
CSRF_FIELD = "csrf_token"
# The longest a session lives (the registry's absolute expiry); the cookie need not outlive it.
SESSION_COOKIE_SECONDS = 7 * 24 * 3600
MAX_TOKEN_LENGTH = 256
CALL_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Principal:
    """A signed-in person, as the registry resolved their session."""

    session_id: str
    user_id: str
    name: str
    email: str
    # "" for an operator.
    tenant_id: str
    role: str
    scopes: frozenset[str]
    csrf_token: str
    enrolment_pending: bool

    @property
    def is_operator(self) -> bool:
        return "operator" in self.scopes

    def allows(self, scope: str) -> bool:
        """As the gateway's API keys: `admin` holds every tenant scope."""
        return self.is_operator or scope in self.scopes or (scope != "operator" and "admin" in self.scopes)

    def actor(self) -> people_pb2.Actor:
        """The principal as PeopleService's calls take it."""
        return people_pb2.Actor(tenant_id=self.tenant_id, user_id=self.user_id)


def csrf_token(csrf_secret: str, session_id: str) -> str:
    return hmac.new(csrf_secret.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def principal_of(message: people_pb2.Principal) -> Principal:
    return Principal(
        session_id=message.session_id,
        user_id=message.user.id,
        name=message.user.name,
        email=message.user.email,
        tenant_id=message.tenant_id,
        role=people_pb2.Role.Name(message.role),
        scopes=frozenset(message.scopes),
        csrf_token=csrf_token(message.csrf_secret, message.session_id),
        enrolment_pending=message.two_factor_enrolment_pending,
    )


async def signed_in(backends: Backends, request: Request) -> Principal | None:
    """The person whose session cookie the request carries; None without a live session."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        found = await backends.people.ResolveSession(
            people_pb2.ResolveSessionRequest(token=token), timeout=CALL_TIMEOUT_SECONDS
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            return None
        raise
    return principal_of(found)


def check_csrf(principal: Principal, submitted: str) -> None:
    """Refuses a form whose token is not the session's (403)."""
    if not hmac.compare_digest(submitted.encode(), principal.csrf_token.encode()):
        raise HTTPException(403, "the form's token does not match the session")


Page = Callable[[Request, Principal], Awaitable[Response]]


def requires(
    backends: Backends, scope: str | None = None
) -> Callable[[Page], Callable[[Request], Awaitable[Response]]]:
    """A page for signed-in people (those without a session go to the sign-in page, then
    back), and with `scope`, only those whose role holds it (403 otherwise)."""

    def wrap(page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            principal = await signed_in(backends, request)
            if principal is None:
                return RedirectResponse(f"/sign-in?{urlencode({'next': request.url.path})}", status_code=303)
            if scope is not None and not principal.allows(scope):
                raise HTTPException(403, "your role does not allow this page")
            return await page(request, principal)

        return endpoint

    return wrap
