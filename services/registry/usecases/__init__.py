"""The registry's use cases: one method per command or query; each command is one
transaction, each query one read without a transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.kit.db import UnitOfWork

Clock = Callable[[], datetime]
UnitOfWorkFactory = Callable[..., UnitOfWork]


def utc_now() -> datetime:
    return datetime.now(UTC)
