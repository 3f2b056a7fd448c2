"""Use cases of edge gateways: a gateway device speaks for machines it names, which are
devices of its tenant, registered on first mention under the profile the gateway names."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

from sqlalchemy import Connection

from services.kit.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.kit.validation import require_uuid
from services.registry.domain import Device
from services.registry.queries import profiles as profile_queries
from services.registry.queries.devices import devices_by_serial, find_device
from services.registry.usecases import UnitOfWorkFactory
from services.registry.usecases.device_input import SERIAL
from services.registry.usecases.devices import Devices

# The gateway device's attribute naming the profile of the machines it brings.
PROFILE_ATTRIBUTE = "gateway_profile_id"
MAX_NAMES = 100
_SERIAL = re.compile(SERIAL)


class Gateways:
    def __init__(self, unit_of_work: UnitOfWorkFactory, devices: Devices) -> None:
        self._unit_of_work = unit_of_work
        self._devices = devices

    def resolve(self, tenant_id: str, gateway_id: str, names: Sequence[str]) -> list[Device]:
        """The devices named, in order, registering those that are not yet."""
        tenant_id, gateway_id = (
            require_uuid(tenant_id, "tenant_id"),
            require_uuid(gateway_id, "gateway_device_id"),
        )
        _require_names(names)
        found, profile_id = self._known(tenant_id, gateway_id, names)
        missing = sorted(set(names) - found.keys())
        if missing:
            with contextlib.suppress(AlreadyExists):  # registered meanwhile: read below
                self._devices.register(tenant_id, [_spec(name, profile_id) for name in missing], bulk=True)
            found, _ = self._known(tenant_id, gateway_id, names)
        return [found[name] for name in names if name in found]

    def _known(self, tenant_id: str, gateway_id: str, names: Sequence[str]) -> tuple[dict[str, Device], str]:
        """The devices already registered by name, and the profile of those that are not."""
        with self._unit_of_work(read_only=True) as uow:
            profile_id = _profile_of(uow.connection, tenant_id, gateway_id)
            return devices_by_serial(uow.connection, tenant_id, names), profile_id


def _profile_of(connection: Connection, tenant_id: str, gateway_id: str) -> str:
    gateway = find_device(connection, tenant_id, gateway_id)
    if gateway is None:
        raise NotFound("gateway device not found")
    profile_id = gateway.attributes.get(PROFILE_ATTRIBUTE)
    if not isinstance(profile_id, str) or not profile_queries.latest_versions(
        connection, tenant_id, [profile_id]
    ):
        raise FailedPrecondition(
            f"the gateway device's attribute {PROFILE_ATTRIBUTE} names no device profile of its tenant"
        )
    return profile_id


def _spec(name: str, profile_id: str) -> dict[str, str]:
    return {"serial_number": name, "display_name": name, "profile_id": profile_id}


def _require_names(names: Sequence[str]) -> None:
    if not 1 <= len(names) <= MAX_NAMES:
        raise InvalidArgument([FieldViolation("names", f"between 1 and {MAX_NAMES} names")])
    for i, name in enumerate(names):
        if not _SERIAL.match(name):
            raise InvalidArgument([FieldViolation(f"names[{i}]", "1-64 letters, digits or ._:/-")])
