"""A person's own account: who they are, their second factor (TOTP, with its QR code drawn
here), signing out everywhere; and the gate that sends a person whose tenant requires a
second factor they have not enrolled to enrolment from every page."""

from __future__ import annotations

import segno
from gantry.v1 import people_pb2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from services.console.forms import read_form
from services.console.people.context import PeopleContext
from services.console.people.refusals import Refusal
from services.console.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Principal,
    check_csrf,
    requires,
    signed_in,
)
from services.kit.grpc_clients import Backends

ACCOUNT = "/account"
NOTICES = frozenset({"enrolled"})
# What a person whose enrolment is pending may still open: their account, signing out,
# the language switch, static files and probes.
_OPEN_DURING_ENROLMENT = (ACCOUNT, "/sign-out", "/sign-in", "/language", "/static/", "/healthz", "/readyz")


def routes(ctx: PeopleContext) -> list[Route]:
    async def own_user(principal: Principal) -> people_pb2.User:
        return await ctx.people.GetUser(
            people_pb2.GetUserRequest(actor=principal.actor(), user_id=principal.user_id),
            timeout=ctx.timeout(),
        )

    async def show(request: Request, principal: Principal, status: int = 200, **context: object) -> Response:
        return ctx.render(
            request,
            "people/account.html",
            status,
            principal=principal,
            user=await own_user(principal),
            notice=ctx.notice(request, NOTICES),
            **{"enrolment": None, "qr_code": "", "refusal": None, **context},
        )

    @requires(ctx.backends)
    async def account(request: Request, principal: Principal) -> Response:
        return await show(request, principal)

    @requires(ctx.backends)
    async def start_enrolment(request: Request, principal: Principal) -> Response:
        form = await read_form(request)
        check_csrf(principal, form.get(CSRF_FIELD, ""))
        answer = await ctx.call(
            ctx.people.StartTwoFactorEnrolment(
                people_pb2.StartTwoFactorEnrolmentRequest(actor=principal.actor()), timeout=ctx.timeout()
            )
        )
        if isinstance(answer, Refusal):
            return await show(request, principal, answer.status, refusal=answer)
        return await show(request, principal, enrolment=answer, qr_code=qr_code(answer.otpauth_uri))

    @requires(ctx.backends)
    async def confirm_enrolment(request: Request, principal: Principal) -> Response:
        form = await read_form(request)
        check_csrf(principal, form.get(CSRF_FIELD, ""))
        answer = await ctx.call(
            ctx.people.ConfirmTwoFactorEnrolment(
                people_pb2.ConfirmTwoFactorEnrolmentRequest(
                    actor=principal.actor(), code=form.get("code", "").strip()
                ),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(answer, Refusal):
            return await show(request, principal, answer.status, refusal=answer)
        target = f"{ACCOUNT}?notice=enrolled"
        if not principal.enrolment_pending:
            return RedirectResponse(target, status_code=303)
        # The pending session holds no scope: a new one holds the role's.
        session = await ctx.people.RotateSession(
            people_pb2.RotateSessionRequest(
                token=request.cookies.get(SESSION_COOKIE, ""), client_address=ctx.address(request)
            ),
            timeout=ctx.timeout(),
        )
        return await ctx.start_session(request, session, target)

    return [
        Route(ACCOUNT, account, methods=["GET"], name="account"),
        Route(f"{ACCOUNT}/two-factor", start_enrolment, methods=["POST"], name="two_factor_start"),
        Route(
            f"{ACCOUNT}/two-factor/confirm", confirm_enrolment, methods=["POST"], name="two_factor_confirm"
        ),
    ]


def qr_code(uri: str) -> str:
    """The URI as a QR code, an SVG data URI (the policy allows `img-src data:`)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


class EnrolmentGate:
    """Sends a person whose session waits for enrolment to their account from any page they
    ask for, the pages of others included (their session holds no scope meanwhile)."""

    def __init__(self, app: ASGIApp, backends: Backends) -> None:
        self.app = app
        self.backends = backends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._gated(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        principal = await signed_in(self.backends, request)
        if principal is not None and principal.enrolment_pending:
            await RedirectResponse(ACCOUNT, status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _gated(scope: Scope) -> bool:
        path: str = scope["path"]
        has_session = any(
            name == b"cookie" and SESSION_COOKIE.encode() in value for name, value in scope["headers"]
        )
        return has_session and path != "/" and not path.startswith(_OPEN_DURING_ENROLMENT)
