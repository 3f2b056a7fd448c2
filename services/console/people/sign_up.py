"""A company's self sign-up: the form, the mailed confirmation link, and its outcome (the
company ready, or waiting for the operator's approval)."""

from __future__ import annotations

from gantry.v1 import people_pb2, registry_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.console.forms import read_form
from services.console.pages import Pages
from services.console.people.context import PeopleContext
from services.console.people.refusals import Refusal

SIZE_CLASSES = ("micro", "small", "medium", "large")
# CLDR's territories that are not countries (Europe, the UN, unknown, pseudo-regions).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})
_FIELDS = ("company_name", "country", "size_class", "admin_name", "admin_email")


def routes(ctx: PeopleContext) -> list[Route]:
    def form_page(request: Request, values: dict[str, str], refusal: Refusal | None = None) -> Response:
        context = {
            "values": values,
            "countries": countries(ctx.pages, request),
            "size_classes": SIZE_CLASSES,
        }
        if refusal is not None:
            return ctx.refused(request, "people/sign_up.html", refusal, **context)
        return ctx.render_form(request, "people/sign_up.html", refusal=None, **context)

    async def sign_up_page(request: Request) -> Response:
        return form_page(request, dict.fromkeys(_FIELDS, ""))

    async def sign_up(request: Request) -> Response:
        form = await read_form(request)
        ctx.forms.check(request, form)
        values = {name: form.get(name, "").strip() for name in _FIELDS}
        answer = await ctx.call(
            ctx.people.StartSignUp(
                people_pb2.StartSignUpRequest(
                    company_name=values["company_name"],
                    country=values["country"],
                    size_class=size_class_of(values["size_class"]),
                    admin_email=values["admin_email"],
                    admin_name=values["admin_name"],
                    password=form.get("password", ""),
                    client_address=ctx.address(request),
                ),
                timeout=ctx.timeout(),
            )
        )
        if isinstance(answer, Refusal):
            return form_page(request, values, answer)
        link = ctx.link(f"/sign-up/confirm?token={answer.confirmation_token}")
        if not await ctx.mail(request, "mail/sign_up.txt", answer.admin_email, sign_up=answer, link=link):
            return form_page(request, values, Refusal("mail_failed", 503))
        return ctx.render(request, "people/sign_up_sent.html", email=answer.admin_email)

    async def confirm_page(request: Request) -> Response:
        # A button, not the link itself, confirms: mail scanners follow links.
        return ctx.render_form(
            request, "people/sign_up_confirm.html", token=request.query_params.get("token", "")[:256]
        )

    async def confirm(request: Request) -> Response:
        form = await read_form(request)
        ctx.forms.check(request, form)
        answer = await ctx.call(
            ctx.people.ConfirmSignUp(
                people_pb2.ConfirmSignUpRequest(token=form.get("token", "")), timeout=ctx.timeout()
            )
        )
        if isinstance(answer, Refusal):
            return ctx.refused(request, "people/sign_up_confirm.html", answer, token="")
        awaiting = answer.sign_up.status == people_pb2.SIGN_UP_STATUS_AWAITING_APPROVAL
        return ctx.render(request, "people/sign_up_done.html", confirmed=answer, awaiting=awaiting)

    return [
        Route("/sign-up", sign_up_page, methods=["GET"], name="sign_up"),
        Route("/sign-up", sign_up, methods=["POST"], name="sign_up_submit"),
        Route("/sign-up/confirm", confirm_page, methods=["GET"], name="sign_up_confirm"),
        Route("/sign-up/confirm", confirm, methods=["POST"], name="sign_up_confirm_submit"),
    ]


def size_class_of(name: str) -> int:
    """A size class of the form ("small"); UNSPECIFIED, which the registry refuses, for any other."""
    if name in SIZE_CLASSES:
        return registry_pb2.SizeClass.Value(f"SIZE_CLASS_{name.upper()}")
    return registry_pb2.SIZE_CLASS_UNSPECIFIED


def countries(pages: Pages, request: Request) -> list[tuple[str, str]]:
    """ISO 3166-1 alpha-2 codes with their names in the reader's language, by name."""
    territories = pages.language_of(request).locale.territories
    return sorted(
        ((code, name) for code, name in territories.items() if _is_country(code)), key=lambda pair: pair[1]
    )


def _is_country(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code.isupper() and code not in _NOT_COUNTRIES
