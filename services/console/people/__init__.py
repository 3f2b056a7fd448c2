"""The pages of people: signing in and out, sign-up, invitations, password resets, a
person's account and second factor, an admin's people settings, the operator's sign-ups."""

from __future__ import annotations

from starlette.routing import Route

from services.console.people import account, operator, settings_people, sign_in, sign_up, tokens
from services.console.people.context import PeopleContext


def routes(ctx: PeopleContext) -> list[Route]:
    return [
        *sign_in.routes(ctx),
        *sign_up.routes(ctx),
        *tokens.routes(ctx),
        *account.routes(ctx),
        *settings_people.routes(ctx),
        *operator.routes(ctx),
    ]
