"""Telemetry's use cases."""

from __future__ import annotations

from collections.abc import Callable

from services.kit.db import UnitOfWork
from services.kit.errors import NotFound
from services.kit.events import Event
from services.kit.validation import require_uuid
from services.telemetry import storage
from services.telemetry.domain import KnownDevice, LatestValues


class Telemetry:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    def learn_device(self, event: Event) -> bool:
        """Records a device the registry registered; False when the event was already handled."""
        device = KnownDevice(
            event.data["device_id"],
            event.tenant_id,
            event.data["serial_number"],
            event.data["state"],
            event.occurred_at,
        )
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            storage.add_known_device(uow.connection, device)
            uow.commit()
        return True

    def get_latest(self, tenant_id: str, device_id: str) -> LatestValues:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        device_id = require_uuid(device_id, "device_id")
        with self._unit_of_work(read_only=True) as uow:
            device = storage.find_known_device(uow.connection, tenant_id, device_id)
        if device is None:
            raise NotFound("device not found")
        return LatestValues.none_yet(device)
