"""What the settings and operator pages share: a backend's call whose refusal the page
words (its fields marked), the cursor a list page was asked for, and answers that carry a
secret shown once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from services.console.backend import CALL_TIMEOUT_SECONDS
from services.console.people.refusals import Refusal, attempt

Reply = TypeVar("Reply")
MAX_CURSOR_LENGTH = 512


async def call(method: Callable[..., Awaitable[Reply]], message: Any) -> Reply | Refusal:
    return await attempt(method(message, timeout=CALL_TIMEOUT_SECONDS))


def cursor_of(request: Request) -> str:
    return request.query_params.get("after", "")[:MAX_CURSOR_LENGTH]


def shown_once(response: Response) -> Response:
    """An answer holding a secret: no cache keeps it, not even the browser's."""
    response.headers["Cache-Control"] = "no-store"
    return response
