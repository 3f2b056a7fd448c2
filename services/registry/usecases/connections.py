"""Use cases of devices' connections: protocol adapters report which devices are connected
to them, so that a connected device is online even between its readings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.validation import require_uuid
from services.registry.queries import connections as queries
from services.registry.queries.connections import DeviceKey
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.cache import EvictingCache

MAX_DEVICES = 10_000
MAX_LEASE_SECONDS = 3600


class Connections:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now, cache: EvictingCache | None = None
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._cache = cache

    def report(
        self, connected: Sequence[DeviceKey], disconnected: Sequence[DeviceKey], lease_seconds: int
    ) -> int:
        """Records both lists in one transaction; returns how many devices were found."""
        if not 1 <= lease_seconds <= MAX_LEASE_SECONDS:
            raise _invalid("lease_seconds", f"between 1 and {MAX_LEASE_SECONDS}")
        if len(connected) + len(disconnected) > MAX_DEVICES:
            raise _invalid("connected", f"at most {MAX_DEVICES} devices in all")
        connected, disconnected = _keys(connected, "connected"), _keys(disconnected, "disconnected")
        now = self._clock()
        with self._unit_of_work() as uow:
            recorded = queries.record_connections(
                uow.connection, connected, now + timedelta(seconds=lease_seconds), now
            )
            recorded += queries.record_connections(uow.connection, disconnected, None, now)
            uow.commit()
        if self._cache is not None:
            for _, device_id in (*connected, *disconnected):
                self._cache.forget(device_id)
        return recorded


def _keys(keys: Sequence[DeviceKey], field: str) -> list[DeviceKey]:
    return [
        (
            require_uuid(tenant_id, f"{field}[{i}].tenant_id"),
            require_uuid(device_id, f"{field}[{i}].device_id"),
        )
        for i, (tenant_id, device_id) in enumerate(keys)
    ]


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, description)])
