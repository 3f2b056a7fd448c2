"""How long readings are kept: a tier per tenant, and expiry that drops whole partitions.

Readings are written into their tenant's tier at ingest and stay in it: changing a
tenant's retention applies to readings received afterwards (within the processes'
cache time), not to those already stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from cachetools import TTLCache
from sqlalchemy import Connection, delete, text

from services.kit import settings
from services.kit.db import UnitOfWork
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.validation import require_uuid
from services.telemetry import storage
from services.telemetry.rules import RETENTION_TIERS

log = logging.getLogger(__name__)

CACHE_SECONDS = 30.0


def default_retention_days() -> int:
    days = int(settings.env("TELEMETRY_RETENTION_DAYS", "365"))
    if days not in RETENTION_TIERS:
        raise SystemExit(f"GANTRY_TELEMETRY_RETENTION_DAYS must be one of {RETENTION_TIERS}")
    return days


class Retention:
    def __init__(
        self,
        unit_of_work: Callable[..., UnitOfWork],
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
                known = storage.retention_days(uow.connection, tenant_id) or self._default
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
            storage.set_retention_days(uow.connection, tenant_id, days, self._clock())
            uow.commit()
        with self._lock:
            self._known[tenant_id] = days
        return days


def expire(connection: Connection, now: datetime) -> int:
    """Removes readings past their tier's retention: whole day partitions on PostgreSQL,
    rows elsewhere. Returns the partitions (or rows) removed."""
    if connection.dialect.name != "postgresql":
        return sum(_delete_expired_rows(connection, days, now) for days in RETENTION_TIERS)
    dropped = 0
    for days in RETENTION_TIERS:
        for name, day in _day_partitions(connection, days):
            if day + timedelta(days=1) <= (now - timedelta(days=days)).date():
                connection.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
                log.info("expired readings partition dropped", extra={"partition": name})
                dropped += 1
    return dropped


def _day_partitions(connection: Connection, days: int) -> list[tuple[str, date]]:
    query = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:parent AS regclass)"
    )
    names = connection.execute(query, {"parent": f"readings_r{days}"}).scalars()
    return [(name, datetime.strptime(name.rsplit("_", 1)[1], "%Y%m%d").date()) for name in names]


def _delete_expired_rows(connection: Connection, days: int, now: datetime) -> int:
    readings = storage.readings
    cutoff = now - timedelta(days=days)
    statement = delete(readings).where(readings.c.retention_days == days, readings.c.ts < cutoff)
    return connection.execute(statement).rowcount
