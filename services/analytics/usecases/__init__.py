"""Analytics's use cases: each command is one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.kit.db import UnitOfWork

Clock = Callable[[], datetime]
UnitOfWorkFactory = Callable[..., UnitOfWork]


def utc_now() -> datetime:
    return datetime.now(UTC)
