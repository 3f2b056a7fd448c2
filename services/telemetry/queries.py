"""Telemetry's queries over stored readings, each scoped to the caller's tenant."""

from __future__ import annotations

from collections.abc import Callable

from services.kit.db import UnitOfWork
from services.kit.errors import NotFound
from services.kit.validation import require_uuid
from services.telemetry import storage
from services.telemetry.domain import LatestValues


class Queries:
    def __init__(self, unit_of_work: Callable[..., UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    def get_latest(self, tenant_id: str, device_id: str) -> LatestValues:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        device_id = require_uuid(device_id, "device_id")
        with self._unit_of_work(read_only=True) as uow:
            device = storage.find_known_device(uow.connection, tenant_id, device_id)
        if device is None:
            raise NotFound("device not found")
        return LatestValues.none_yet(device)
