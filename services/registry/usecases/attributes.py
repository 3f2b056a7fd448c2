"""Use cases of device attributes: what a device reports about itself (client
attributes) beside what its tenant set for it (shared attributes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.validation import require_uuid
from services.registry.queries import attributes as queries
from services.registry.queries.devices import find_device
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.device_input import MAX_ATTRIBUTES_BYTES

MAX_KEY_LENGTH = 128
MAX_KEYS_ASKED = 256


@dataclass(frozen=True)
class DeviceAttributes:
    device_id: str
    client: dict[str, Any]
    shared: dict[str, Any]


class Attributes:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def report(self, tenant_id: str, device_id: str, reported: dict[str, Any]) -> DeviceAttributes:
        """Merges `reported` into the device's client attributes; a None value removes its key."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        _require_keys(reported)
        now = self._clock()
        with self._unit_of_work() as uow:
            device = find_device(uow.connection, tenant_id, device_id)
            if device is None:
                raise NotFound("device not found")
            merged = queries.lock_client_attributes(uow.connection, device_id, now) | reported
            merged = {key: value for key, value in merged.items() if value is not None}
            if len(orjson.dumps(merged)) > MAX_ATTRIBUTES_BYTES:
                raise _invalid("attributes", f"at most {MAX_ATTRIBUTES_BYTES} bytes of JSON in all")
            queries.save_client_attributes(uow.connection, device_id, merged, now)
            uow.commit()
        return DeviceAttributes(device_id, merged, device.attributes)

    def get(
        self, tenant_id: str, device_id: str, client_keys: Sequence[str] = (), shared_keys: Sequence[str] = ()
    ) -> DeviceAttributes:
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        for field, keys in (("client_keys", client_keys), ("shared_keys", shared_keys)):
            if len(keys) > MAX_KEYS_ASKED:
                raise _invalid(field, f"at most {MAX_KEYS_ASKED} keys")
        with self._unit_of_work(read_only=True) as uow:
            device = find_device(uow.connection, tenant_id, device_id)
            if device is None:
                raise NotFound("device not found")
            client = queries.client_attributes(uow.connection, device_id)
        return DeviceAttributes(device_id, _only(client, client_keys), _only(device.attributes, shared_keys))


def _only(attributes: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k in keys} if keys else attributes


def _require_keys(reported: dict[str, Any]) -> None:
    if not reported:
        raise _invalid("attributes", "report at least one attribute")
    for key in reported:
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise _invalid(
                f"attributes.{key[:MAX_KEY_LENGTH]}", f"keys are 1-{MAX_KEY_LENGTH} printable characters"
            )
    if len(orjson.dumps(reported)) > MAX_ATTRIBUTES_BYTES:
        raise _invalid("attributes", f"at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field, description)])
