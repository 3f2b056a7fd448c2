"""The pages of people: signing in and out, sign-up, invitations, password resets, a
person's account and second factor, an admin's people settings, the operator's sign-ups."""

from __future__ import annotations

from starlette.routing import Route

from services.console.people import account, sign_in
from services.console.people.context import PeopleContext


def routes(ctx: PeopleContext) -> list[Route]:
    return [*sign_in.routes(ctx), *account.routes(ctx)]
