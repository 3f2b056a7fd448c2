"""Readings refused per tenant, counted in memory and reported now and then as
`telemetry.readings_rejected` events, which a tenant's overview adds up. Counting in
memory keeps ingest's refusals free of any write; a process that dies loses at most one
period's count."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from services.kit.events import new_event
from services.telemetry.usecases import UnitOfWorkFactory


class RejectionTally:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, tenant_id: str, rejected: int) -> None:
        with self._lock:
            self._counts[tenant_id] += rejected

    def report(self) -> None:
        """Sends the counts gathered since the last report; kept for the next when the
        database fails."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        minute = self._clock().replace(second=0, microsecond=0).isoformat()
        try:
            with self._unit_of_work() as uow:
                for tenant_id, rejected in counts.items():
                    uow.emit(
                        new_event(
                            "telemetry.readings_rejected", tenant_id, {"minute": minute, "rejected": rejected}
                        )
                    )
                uow.commit()
        except Exception:
            with self._lock:
                self._counts.update(counts)
            raise
