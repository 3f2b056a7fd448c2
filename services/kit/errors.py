"""Errors a use case raises; every adapter maps them to its protocol in one place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta


class GantryError(Exception):
    """Base of the errors a caller can act on; anything else is a defect."""

    # A stable UPPER_SNAKE_CASE name of this very error, for callers that act on it
    # (sent as google.rpc.ErrorInfo); empty where the kind of error says enough.
    reason = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class InvalidArgument(GantryError):
    def __init__(self, violations: list[FieldViolation], message: str = "invalid request") -> None:
        super().__init__(message)
        self.violations = violations

    @classmethod
    def from_messages(cls, messages: dict, prefix: str = "") -> InvalidArgument:
        """From marshmallow's nested `{field: [message, ...]}` error dict."""
        return cls(list(_flatten(messages, prefix)))


def _flatten(messages: dict | list | str, path: str) -> Iterator[FieldViolation]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            yield FieldViolation(path, message)
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten(item, path)
    else:
        yield FieldViolation(path, str(messages))


class NotFound(GantryError):
    pass


class AlreadyExists(GantryError):
    pass


class VersionMismatch(GantryError):
    """The caller's expected version is not the current one."""


class FailedPrecondition(GantryError):
    pass


class Unauthenticated(GantryError):
    pass


class PermissionDenied(GantryError):
    pass


class ResourceExhausted(GantryError):
    """More than a limit allows in one call: the same in smaller calls is welcome."""


class Throttled(ResourceExhausted):
    """Too many attempts of late: the same call is welcome after `retry_after`."""

    def __init__(self, message: str, retry_after: timedelta) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(GantryError):
    """A backend the call needs did not answer; the same call may succeed later."""


class NotDone(Unavailable):
    """A backend the call needs failed before the call changed anything (its transaction
    rolled back, the broker did not take its message): the same call may be sent again,
    with the same idempotency key."""

    reason = "NOT_DONE"


class CommitOutcomeUnknown(Unavailable):
    """The connection broke while the database committed: the change may have been made.
    A caller retries safely only with an idempotency key, or reads the change back."""

    reason = "OUTCOME_UNKNOWN"

    def __init__(self) -> None:
        super().__init__(
            "the database connection broke during the commit, so the change may have been made; "
            "retry with the same idempotency key, or read it back before trying again"
        )
