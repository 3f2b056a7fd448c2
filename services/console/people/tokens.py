"""The pages a mailed token opens: accepting an invitation (then signed in), and setting a
new password with a reset."""

from __future__ import annotations

from urllib.parse import urlencode

from gantry.v1 import people_pb2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.forms import read_form
from services.console.people.context import HOME, PeopleContext
from services.console.people.refusals import Refusal

MAX_TOKEN_LENGTH = 256


def routes(ctx: PeopleContext) -> list[Route]:
    async def invitation_page(request: Request) -> Response:
        return ctx.render_form(
            request, "people/invitation.html", token=_token(request), name="", refusal=None
        )

    async def accept_invitation(request: Request) -> Response:
        form = await read_form(request)
        ctx.forms.check(request, form)
        token, name, password = form.get("token", ""), form.get("name", "").strip(), form.get("password", "")
        user = await ctx.call(
            ctx.people.AcceptInvitation(
                people_pb2.AcceptInvitationRequest(token=token, name=name, password=password),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(user, Refusal):
            return ctx.refused(request, "people/invitation.html", user, token=token, name=name)
        answer = await ctx.call(
            ctx.people.SignIn(
                people_pb2.SignInRequest(
                    email=user.email, password=password, client_address=ctx.address(request)
                ),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(answer, Refusal) or answer.WhichOneof("outcome") != "session":
            # Throttled meanwhile, or a second factor asked: the sign-in page takes it from here.
            return RedirectResponse(f"/sign-in?{urlencode({'email': user.email})}", status_code=303)
        return await ctx.start_session(request, answer.session, HOME)

    async def reset_page(request: Request) -> Response:
        return ctx.render_form(request, "people/password_reset.html", token=_token(request), refusal=None)

    async def reset_password(request: Request) -> Response:
        form = await read_form(request)
        ctx.forms.check(request, form)
        token = form.get("token", "")
        answer = await ctx.call(
            ctx.people.ResetPassword(
                people_pb2.ResetPasswordRequest(token=token, password=form.get("password", "")),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(answer, Refusal):
            return ctx.refused(request, "people/password_reset.html", answer, token=token)
        return RedirectResponse("/sign-in?notice=password_changed", status_code=303)

    return [
        Route("/invitations/accept", invitation_page, methods=["GET"], name="invitation"),
        Route("/invitations/accept", accept_invitation, methods=["POST"], name="invitation_accept"),
        Route("/password-reset", reset_page, methods=["GET"], name="password_reset"),
        Route("/password-reset", reset_password, methods=["POST"], name="password_reset_submit"),
    ]


def _token(request: Request) -> str:
    return request.query_params.get("token", "")[:MAX_TOKEN_LENGTH]
