"""Signing in (with the second factor when the account has one) and out."""

from __future__ import annotations

from gantry.v1 import people_pb2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.forms import local_path, read_form
from services.console.people.context import HOME, PeopleContext
from services.console.people.refusals import Refusal
from services.console.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Principal,
    check_csrf,
    requires,
)

# Notices another page sends a person to the sign-in page with.
NOTICES = frozenset({"signed_out", "password_changed", "company_ready", "session_ended"})
CHALLENGE_EXPIRED = "sign-in challenge is invalid or expired"


def routes(ctx: PeopleContext) -> list[Route]:
    async def sign_in_page(request: Request) -> Response:
        return ctx.render_form(
            request,
            "people/sign_in.html",
            next=_next_of(request.query_params.get("next", "")),
            email=request.query_params.get("email", "")[:254],
            notice=ctx.notice(request, NOTICES),
        )

    async def sign_in(request: Request) -> Response:
        form = await read_form(request)
        ctx.forms.check(request, form)
        email, target = form.get("email", "").strip(), _next_of(form.get("next", ""))
        answer = await ctx.call(
            ctx.people.SignIn(
                people_pb2.SignInRequest(
                    email=email, password=form.get("password", ""), client_address=ctx.address(request)
                ),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(answer, Refusal):
            return ctx.refused(request, "people/sign_in.html", answer, next=target, email=email, notice="")
        if answer.WhichOneof("outcome") == "second_factor_needed":
            return ctx.render_form(
                request,
                "people/sign_in_code.html",
                challenge=answer.second_factor_needed.challenge_token,
                next=target,
            )
        return await ctx.start_session(request, answer.session, target)

    async def sign_in_code(request: Request) -> Response:
        form = await read_form(request)
        ctx.forms.check(request, form)
        challenge, target = form.get("challenge", ""), _next_of(form.get("next", ""))
        answer = await ctx.call(
            ctx.people.CompleteSignIn(
                people_pb2.CompleteSignInRequest(
                    challenge_token=challenge,
                    code=form.get("code", "").strip(),
                    client_address=ctx.address(request),
                ),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(answer, Refusal):
            if answer.message == CHALLENGE_EXPIRED:
                expired = Refusal("challenge_expired", answer.status)
                return ctx.refused(request, "people/sign_in.html", expired, next=target, email="", notice="")
            return ctx.refused(request, "people/sign_in_code.html", answer, challenge=challenge, next=target)
        return await ctx.start_session(request, answer, target)

    @requires(ctx.backends)
    async def sign_out(request: Request, principal: Principal) -> Response:
        form = await read_form(request)
        check_csrf(principal, form.get(CSRF_FIELD, ""))
        token = request.cookies.get(SESSION_COOKIE, "")
        await ctx.people.SignOut(people_pb2.SignOutRequest(token=token), timeout=ctx.timeout())
        return _signed_out("signed_out", ctx)

    @requires(ctx.backends)
    async def sign_out_everywhere(request: Request, principal: Principal) -> Response:
        form = await read_form(request)
        check_csrf(principal, form.get(CSRF_FIELD, ""))
        await ctx.people.SignOutEverywhere(
            people_pb2.SignOutEverywhereRequest(actor=principal.actor(), user_id=principal.user_id),
            timeout=ctx.timeout(),
        )
        return _signed_out("signed_out", ctx)

    return [
        Route("/sign-in", sign_in_page, methods=["GET"], name="sign_in"),
        Route("/sign-in", sign_in, methods=["POST"], name="sign_in_submit"),
        Route("/sign-in/code", sign_in_code, methods=["POST"], name="sign_in_code"),
        Route("/sign-out", sign_out, methods=["POST"], name="sign_out"),
        Route("/sign-out/everywhere", sign_out_everywhere, methods=["POST"], name="sign_out_everywhere"),
    ]


def _next_of(target: str) -> str:
    return local_path(target, HOME) if target else HOME


def _signed_out(notice: str, ctx: PeopleContext) -> Response:
    response = RedirectResponse(f"/sign-in?notice={notice}", status_code=303)
    ctx.cookies.delete(response, SESSION_COOKIE)
    return response
