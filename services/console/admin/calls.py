"""What the settings and operator pages share: a backend's call whose refusal the page
words (its fields marked), and the answers to forms that issue a secret, shown once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from services.console.backend import CALL_TIMEOUT_SECONDS
from services.console.people.refusals import Refusal, attempt
from services.console.sessions import Principal

Reply = TypeVar("Reply")


async def call(method: Callable[..., Awaitable[Reply]], message: Any) -> Reply | Refusal:
    return await attempt(method(message, timeout=CALL_TIMEOUT_SECONDS))


def shown_once(response: Response) -> Response:
    """An answer holding a secret: no cache keeps it, not even the browser's."""
    response.headers["Cache-Control"] = "no-store"
    return response


class Shown(Protocol):
    """A page shown again after its form: `status`, and what the template takes."""

    def __call__(
        self, request: Request, principal: Principal, status: int = 200, **context: Any
    ) -> Awaitable[Response]: ...


async def issued_or_refused(
    answer: Reply | Refusal,
    show: Shown,
    request: Request,
    principal: Principal,
    entered: dict[str, Any],
    issued: Callable[[Reply], dict[str, str]],
) -> Response:
    """The page again after a form that issues a secret: the secret (`issued` of the answer)
    shown once, or the refusal with the form as it was sent."""
    if isinstance(answer, Refusal):
        return await show(request, principal, answer.status, refusal=answer, entered=entered)
    return shown_once(await show(request, principal, issued=issued(answer)))
