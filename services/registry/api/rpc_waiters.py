"""Calls of this process waiting for an RPC's outcome, woken by the event that says it came,
wherever it was recorded (another replica's AnswerRpc, say). The events are heard on the
listener's thread and handed to the loop of the waiting call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from services.kit.events import Event
from services.registry.domain_rpcs import OUTCOMES, RpcStatus

RPC_CHANGED = "device.rpc_changed"
EVENT_TYPES = (RPC_CHANGED,)


class RpcWaiters:
    def __init__(self) -> None:
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def waiting(self, rpc_id: str) -> Iterator[asyncio.Future[None]]:
        """A future done once the RPC's outcome is heard of; registered before the RPC is
        sent, so that no outcome can come unheard."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiting[rpc_id] = (loop, outcome)
        try:
            yield outcome
        finally:
            with self._lock:
                self._waiting.pop(rpc_id, None)

    def heard(self, event: Event) -> None:
        if event.type != RPC_CHANGED or RpcStatus(event.data["status"]) not in OUTCOMES:
            return
        with self._lock:
            found = self._waiting.get(event.data["rpc_id"])
        if found is not None:
            loop, outcome = found
            loop.call_soon_threadsafe(_settle, outcome)


def _settle(outcome: asyncio.Future[None]) -> None:
    if not outcome.done():
        outcome.set_result(None)
