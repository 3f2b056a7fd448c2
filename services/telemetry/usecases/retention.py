"""How long readings are kept: a tier per tenant, and expiry that drops whole partitions.

Readings are written into their tenant's tier at ingest and stay in it: changing a
tenant's retention applies to readings received afterwards (within the processes'
cache time), not to those already stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from cachetools import TTLCache

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.validation import require_uuid
from services.telemetry.queries import partitions
from services.telemetry.queries import retention as sql
from services.telemetry.rules import RETENTION_TIERS
from services.telemetry.usecases import UnitOfWorkFactory

CACHE_SECONDS = 30.0


class Retention:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        default_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._default = default_days
        self._clock = clock
        self._known: TTLCache[str, int] = TTLCache(100_000, CACHE_SECONDS)
        self._lock = threading.Lock()

    def days(self, tenant_id: str) -> int:
        """The tenant's retention in days, as this process knew it at most
        CACHE_SECONDS ago."""
        with self._lock:
            known = self._known.get(tenant_id)
        if known is None:
            with self._unit_of_work(read_only=True) as uow:
                known = sql.retention_days(uow.connection, tenant_id) or self._default
            with self._lock:
                self._known[tenant_id] = known
        return known

    def get(self, tenant_id: str) -> int:
        return self.days(require_uuid(tenant_id, "tenant_id"))

    def set(self, tenant_id: str, days: int) -> int:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        if days not in RETENTION_TIERS:
            raise InvalidArgument(
                [FieldViolation("days", f"must be one of {', '.join(map(str, RETENTION_TIERS))}")]
            )
        with self._unit_of_work() as uow:
            sql.set_retention_days(uow.connection, tenant_id, days, self._clock())
            uow.commit()
        with self._lock:
            self._known[tenant_id] = days
        return days


def expire(unit_of_work: UnitOfWorkFactory, now: datetime) -> int:
    """Removes readings past their tier's retention, in one transaction; returns the day
    partitions (or, but on PostgreSQL, rows) removed."""
    with unit_of_work() as uow:
        removed = partitions.expire(uow.connection, now)
        uow.commit()
    return removed
