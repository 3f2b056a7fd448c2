"""The operator's sign-ups: those awaiting approval (in approval mode), approved or rejected."""

from __future__ import annotations

import datetime

from gantry.v1 import people_pb2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.forms import read_form
from services.console.people.context import PeopleContext, page_of
from services.console.people.refusals import Refusal
from services.console.sessions import CSRF_FIELD, Principal, check_csrf, requires

PAGE = "/operator/sign-ups"
PAGE_SIZE = 50
NOTICES = frozenset({"approved", "rejected"})


def routes(ctx: PeopleContext) -> list[Route]:
    operator = requires(ctx.backends, "operator")

    async def show(
        request: Request, principal: Principal, status: int = 200, refusal: Refusal | None = None
    ) -> Response:
        listed = await ctx.call(
            ctx.people.ListSignUps(
                people_pb2.ListSignUpsRequest(
                    actor=principal.actor(),
                    status=people_pb2.SIGN_UP_STATUS_AWAITING_APPROVAL,
                    page=page_of(request, PAGE_SIZE),
                ),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(listed, Refusal):
            return RedirectResponse(PAGE, status_code=303)
        return ctx.render(
            request,
            "people/operator_sign_ups.html",
            status,
            principal=principal,
            sign_ups=listed.sign_ups,
            next_cursor=listed.page.next_cursor,
            refusal=refusal,
            utc=datetime.UTC,
            notice=ctx.notice(request, NOTICES),
        )

    @operator
    async def sign_ups(request: Request, principal: Principal) -> Response:
        return await show(request, principal)

    def decision(method: str, notice: str):
        @operator
        async def decide(request: Request, principal: Principal) -> Response:
            form = await read_form(request)
            check_csrf(principal, form.get(CSRF_FIELD, ""))
            answer = await ctx.call(
                getattr(ctx.people, method)(
                    people_pb2.DecideSignUpRequest(
                        actor=principal.actor(), sign_up_id=request.path_params["sign_up_id"]
                    ),
                    timeout=ctx.timeout(),
                )
            )
            if isinstance(answer, Refusal):
                return await show(request, principal, answer.status, answer)
            return RedirectResponse(f"{PAGE}?notice={notice}", status_code=303)

        return decide

    return [
        Route(PAGE, sign_ups, methods=["GET"], name="operator_sign_ups"),
        Route(
            f"{PAGE}/{{sign_up_id}}/approve",
            decision("ApproveSignUp", "approved"),
            methods=["POST"],
            name="sign_up_approve",
        ),
        Route(
            f"{PAGE}/{{sign_up_id}}/reject",
            decision("RejectSignUp", "rejected"),
            methods=["POST"],
            name="sign_up_reject",
        ),
    ]
