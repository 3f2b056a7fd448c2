"""Server-side RPCs to devices, in plain Python: what a call is and how its status moves."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class RpcStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    SUCCEEDED = "succeeded"
    EXPIRED = "expired"


# What the caller waits for: a one-way call's delivery, a two-way call's answer.
OUTCOMES = frozenset({RpcStatus.DELIVERED, RpcStatus.SUCCEEDED, RpcStatus.EXPIRED})


@dataclass(frozen=True)
class Rpc:
    id: str
    tenant_id: str
    device_id: str
    method: str
    params: Any
    one_way: bool
    timeout_ms: int
    status: RpcStatus
    response: Any
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    expires_at: datetime

    def as_of(self, now: datetime) -> Rpc:
        """This RPC as it stands at `now`: one still waiting past its expiry has expired
        (rows are not rewritten for it; delivery and answers skip it as well)."""
        waiting = self.status in (RpcStatus.QUEUED, RpcStatus.SENT)
        return replace(self, status=RpcStatus.EXPIRED) if waiting and now >= self.expires_at else self

    @property
    def concluded(self) -> bool:
        return self.status in OUTCOMES
