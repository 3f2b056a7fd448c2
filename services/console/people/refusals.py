"""What a backend refused, in the terms the pages show: a problem the templates word in
the reader's language, the HTTP status of the page that tells it, how long to wait, and
which fields were wrong."""

from __future__ import annotations

import math
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from services.kit.grpc_errors import field_violations, retry_seconds

T = TypeVar("T")

# Refusals a person's input or situation explains; any other is the console's failure (500).
_PROBLEMS = {
    grpc.StatusCode.INVALID_ARGUMENT: ("invalid", 400),
    grpc.StatusCode.UNAUTHENTICATED: ("unauthenticated", 401),
    grpc.StatusCode.PERMISSION_DENIED: ("forbidden", 403),
    grpc.StatusCode.NOT_FOUND: ("not_found", 404),
    grpc.StatusCode.ALREADY_EXISTS: ("email_taken", 409),
    grpc.StatusCode.FAILED_PRECONDITION: ("precondition", 409),
    grpc.StatusCode.ABORTED: ("stale", 409),
    grpc.StatusCode.RESOURCE_EXHAUSTED: ("throttled", 429),
}


@dataclass(frozen=True)
class Refusal:
    problem: str
    status: int
    # The registry's own words, for the problems a page tells apart by them.
    message: str = ""
    retry_after_minutes: int = 0
    fields: frozenset[str] = field(default_factory=frozenset)

    def concerns(self, name: str) -> bool:
        """Whether the backend named the field `name` or a part of it (`scopes[1]`,
        `trigger.seconds`)."""
        return any(f == name or f.startswith((f"{name}[", f"{name}.")) for f in self.fields)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_minutes * 60)} if self.retry_after_minutes else {}


def refusal_of(error: grpc.aio.AioRpcError) -> Refusal:
    """The refusal of a backend's call; re-raises an error no person's input explains."""
    known = _PROBLEMS.get(error.code())
    if known is None:
        raise error
    problem, status = known
    retry = retry_seconds(error)
    return Refusal(
        problem=problem,
        status=status,
        message=error.details() or "",
        retry_after_minutes=math.ceil(retry / 60) if retry else 0,
        fields=frozenset(v.field for v in field_violations(error)),
    )


async def attempt(answer: Awaitable[T]) -> T | Refusal:
    """A call's answer, or its refusal when the reader's input or situation explains it."""
    try:
        return await answer
    except grpc.aio.AioRpcError as error:
        return refusal_of(error)
