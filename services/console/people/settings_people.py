"""An admin's people settings: the tenant's users a page at a time, invitations (the link
shown once, and mailed), status and role changes, password and second-factor resets, and
the tenant's requirement of a second factor. Every call names the admin as the actor, so
the registry refuses a user of another tenant (NOT_FOUND) whatever id a form sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gantry.v1 import people_pb2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.forms import read_form
from services.console.people.context import PeopleContext, page_of
from services.console.people.refusals import Refusal
from services.console.sessions import CSRF_FIELD, Principal, check_csrf, requires

PAGE = "/settings/people"
PAGE_SIZE = 50
ROLES = ("ROLE_ADMIN", "ROLE_ENGINEER", "ROLE_VIEWER")
STATUSES = {"active": people_pb2.USER_STATUS_ACTIVE, "disabled": people_pb2.USER_STATUS_DISABLED}
NOTICES = frozenset({"changed", "two_factor_required", "two_factor_optional"})


def routes(ctx: PeopleContext) -> list[Route]:
    admin = requires(ctx.backends, "admin")

    async def show(request: Request, principal: Principal, status: int = 200, **context: Any) -> Response:
        listed = await ctx.call(
            ctx.people.ListUsers(
                people_pb2.ListUsersRequest(actor=principal.actor(), page=page_of(request, PAGE_SIZE)),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(listed, Refusal):
            # A cursor of someone's making: start again from the first page.
            return RedirectResponse(PAGE, status_code=303)
        return ctx.render(
            request,
            "people/settings_people.html",
            status,
            principal=principal,
            users=listed.users,
            next_cursor=listed.page.next_cursor,
            roles=ROLES,
            role_name=people_pb2.Role.Name,
            notice=ctx.notice(request, NOTICES),
            **{"refusal": None, "issued": None, **context},
        )

    async def form_of(request: Request, principal: Principal) -> dict[str, str]:
        form = await read_form(request)
        check_csrf(principal, form.get(CSRF_FIELD, ""))
        return form

    async def outcome(
        request: Request, principal: Principal, answer: object, notice: str = "changed"
    ) -> Response:
        if isinstance(answer, Refusal):
            return await show(request, principal, answer.status, refusal=answer)
        return RedirectResponse(f"{PAGE}?notice={notice}", status_code=303)

    @admin
    async def people_page(request: Request, principal: Principal) -> Response:
        return await show(request, principal)

    @admin
    async def invite(request: Request, principal: Principal) -> Response:
        form = await form_of(request, principal)
        invitation = await ctx.call(
            ctx.people.InviteUser(
                people_pb2.InviteUserRequest(
                    actor=principal.actor(),
                    email=form.get("email", "").strip(),
                    name=form.get("name", "").strip(),
                    role=_role(form),
                ),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(invitation, Refusal):
            return await show(request, principal, invitation.status, refusal=invitation, invite_form=form)
        link = ctx.link(f"/invitations/accept?token={invitation.token}")
        mailed = await ctx.mail(
            request,
            "mail/invitation.txt",
            invitation.email,
            invitation=invitation,
            inviter=principal.name,
            link=link,
        )
        return await show(
            request, principal, issued=_issued("invitation", invitation.email, link, mailed, ctx)
        )

    def user_change(
        method: str, message: Callable[..., Any], values: Callable[[dict[str, str]], dict[str, int]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A change of a user at the version the form read them at: `values` of the form."""

        @admin
        async def change(request: Request, principal: Principal) -> Response:
            form = await form_of(request, principal)
            asked = message(
                actor=principal.actor(),
                user_id=request.path_params["user_id"],
                expected_version=version_of(form),
                **values(form),
            )
            answer = await ctx.call(getattr(ctx.people, method)(asked, timeout=ctx.timeout()))
            return await outcome(request, principal, answer)

        return change

    set_status = user_change(
        "SetUserStatus",
        people_pb2.SetUserStatusRequest,
        lambda form: {"status": STATUSES.get(form.get("status", ""), people_pb2.USER_STATUS_UNSPECIFIED)},
    )
    change_role = user_change("ChangeRole", people_pb2.ChangeRoleRequest, lambda form: {"role": _role(form)})

    @admin
    async def start_password_reset(request: Request, principal: Principal) -> Response:
        await form_of(request, principal)
        user_id = request.path_params["user_id"]
        user = await ctx.call(
            ctx.people.GetUser(
                people_pb2.GetUserRequest(actor=principal.actor(), user_id=user_id), timeout=ctx.timeout()
            )
        )
        if isinstance(user, Refusal):
            return await outcome(request, principal, user)
        reset = await ctx.call(
            ctx.people.StartPasswordReset(
                people_pb2.StartPasswordResetRequest(actor=principal.actor(), user_id=user_id),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(reset, Refusal):
            return await outcome(request, principal, reset)
        link = ctx.link(f"/password-reset?token={reset.token}")
        mailed = await ctx.mail(request, "mail/password_reset.txt", user.email, user=user, link=link)
        return await show(request, principal, issued=_issued("password_reset", user.email, link, mailed, ctx))

    @admin
    async def reset_two_factor(request: Request, principal: Principal) -> Response:
        await form_of(request, principal)
        answer = await ctx.call(
            ctx.people.ResetTwoFactor(
                people_pb2.ResetTwoFactorRequest(
                    actor=principal.actor(), user_id=request.path_params["user_id"]
                ),
                timeout=ctx.timeout(),
            )
        )
        return await outcome(request, principal, answer)

    @admin
    async def require_two_factor(request: Request, principal: Principal) -> Response:
        form = await form_of(request, principal)
        required = form.get("required", "") == "yes"
        answer = await ctx.call(
            ctx.people.SetTwoFactorRequired(
                people_pb2.SetTwoFactorRequiredRequest(actor=principal.actor(), required=required),
                timeout=ctx.timeout(),
            )
        )
        return await outcome(
            request, principal, answer, "two_factor_required" if required else "two_factor_optional"
        )

    user = f"{PAGE}/users/{{user_id}}"
    return [
        Route(PAGE, people_page, methods=["GET"], name="settings_people"),
        Route(f"{PAGE}/invitations", invite, methods=["POST"], name="people_invite"),
        Route(f"{PAGE}/two-factor", require_two_factor, methods=["POST"], name="people_two_factor_required"),
        Route(f"{user}/status", set_status, methods=["POST"], name="people_status"),
        Route(f"{user}/role", change_role, methods=["POST"], name="people_role"),
        Route(f"{user}/password-reset", start_password_reset, methods=["POST"], name="people_password_reset"),
        Route(f"{user}/two-factor-reset", reset_two_factor, methods=["POST"], name="people_two_factor_reset"),
    ]


def version_of(form: dict[str, str]) -> int:
    """The version a form read its record at; 0 for none and -1 for a malformed one, both
    of which the registry refuses."""
    version = form.get("version", "0")
    return int(version) if version.isdigit() and len(version) < 19 else -1


def _role(form: dict[str, str]) -> int:
    role = form.get("role", "")
    return people_pb2.Role.Value(role) if role in ROLES else people_pb2.ROLE_UNSPECIFIED


def _issued(kind: str, email: str, link: str, mailed: bool, ctx: PeopleContext) -> dict[str, str]:
    """A one-time link the page shows its admin, and whether it went by mail too."""
    mail = "sent" if mailed and ctx.mailer.configured else "failed" if not mailed else "none"
    return {"kind": kind, "email": email, "link": link, "mail": mail}
