"""Use cases of devices: registration (single and bulk), reads, lists, updates, lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from services.kit.batching import Coalescer
from services.kit.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    VersionMismatch,
)
from services.kit.events import Event, new_event
from services.kit.pagination import decode_cursor, encode_cursor, page_size
from services.kit.validation import load, require_uuid
from services.registry.domain import (
    DEVICE_TOKEN_PREFIX,
    Connectivity,
    Device,
    DeviceCredential,
    DeviceState,
    IssuedSecret,
    issue_secret,
    own_secret,
)
from services.registry.queries import devices as queries
from services.registry.queries import profiles as profile_queries
from services.registry.queries import tenant_exists
from services.registry.queries.credentials import add_credentials
from services.registry.queries.devices import DeviceFilter
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now
from services.registry.usecases.cache import EvictingCache, Remembered
from services.registry.usecases.device_input import UPDATABLE, DeviceSchema, ListSchema, load_each
from services.registry.usecases.device_pages import OnlineWindows, from_position, position_of, reversed_order

MAX_BULK = 5000
# Reads of a device may be served from memory this long: changes evict it at once,
# but last-seen times move without an event.
LAST_SEEN_STALENESS = timedelta(seconds=2)

# A device and how recently a device of each profile version must have been seen.
DeviceRead = tuple[Device, dict[tuple[str, int], timedelta]]


class Devices:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock = utc_now,
        cache: EvictingCache | None = None,
        reads_gather_seconds: float = 0.0,
    ) -> None:
        """`reads_gather_seconds`: how long, under load, `get` goes on gathering reads
        into one query while they keep arriving (`Coalescer`)."""
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._windows = OnlineWindows()
        self._cache = cache
        self._reads = Coalescer(self._read_devices, "device-reads", reads_gather_seconds)

    def close(self) -> None:
        """Stops the thread that reads devices for `get`."""
        self._reads.close()

    def _read_devices(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], DeviceRead]:
        """Devices by (tenant id, device id), with the online windows of their profiles."""
        with self._unit_of_work(read_only=True) as uow:
            found = queries.find_devices_of(uow.connection, keys)
            windows = self._windows.of(uow.connection, list(found.values()))
        return {key: (device, windows) for key, device in found.items()}

    @staticmethod
    def _connectivity(
        device: Device, windows: dict[tuple[str, int], timedelta], now: datetime
    ) -> Connectivity:
        return device.connectivity(windows[(device.profile_id, device.profile_version)], now)

    def register(
        self, tenant_id: str, specs: list[dict[str, Any]], bulk: bool, own_token: str = ""
    ) -> list[tuple[Device, IssuedSecret]]:
        """Registers every device of `specs` or none. Errors name a bulk request's
        items `devices[i]`, a single device `device`. `own_token`: the access token a
        single device chose (provisioning), rather than a new one."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        if not 1 <= len(specs) <= MAX_BULK:
            raise InvalidArgument([FieldViolation("devices", f"between 1 and {MAX_BULK} devices")])
        names = [f"devices[{i}]" for i in range(len(specs))] if bulk else ["device"]
        commands = load_each(DeviceSchema(), specs, names)
        now = self._clock()
        with self._unit_of_work() as uow:
            if not tenant_exists(uow.connection, tenant_id):
                raise NotFound("tenant not found")
            versions = _resolve_profile_versions(uow.connection, tenant_id, commands, names)
            taken = queries.taken_serials(uow.connection, tenant_id, [c["serial_number"] for c in commands])
            if taken:
                raise AlreadyExists(f"serial numbers already registered: {', '.join(sorted(taken)[:20])}")
            registered = [
                _new_device(tenant_id, c, version, now) for c, version in zip(commands, versions, strict=True)
            ]
            if own_token:
                registered = [(device, own_secret(own_token)) for device, _ in registered]
            try:
                queries.add_devices(uow.connection, [device for device, _ in registered])
                add_credentials(
                    uow.connection, [_credential(device, secret, now) for device, secret in registered]
                )
            except IntegrityError:
                raise AlreadyExists("a serial number was registered meanwhile; retry") from None
            for device, _ in registered:
                uow.emit(_registered(device))
            uow.commit()
        return registered

    async def get(self, tenant_id: str, device_id: str) -> tuple[Device, Connectivity]:
        """A device of the tenant, answered on the event loop: from memory, or else read
        together with the other devices asked for meanwhile, on a thread."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        now = self._clock()
        known, look_up = (
            self._cache.recall(f"device {tenant_id} {device_id}", tuple, now) if self._cache else (None, None)
        )
        if known is None:
            known = await self._reads.get((tenant_id, device_id))
            if known is None:
                raise NotFound("device not found")
            if self._cache and look_up:
                self._cache.keep(
                    look_up, Remembered(known, (device_id, tenant_id), now + LAST_SEEN_STALENESS)
                )
        device, windows = known
        return device, self._connectivity(device, windows, now)

    def list(
        self,
        tenant_id: str,
        request: dict[str, Any],
        size: int,
        cursor: str,
        include_total: bool,
        total_limit: int = 0,
    ) -> tuple[list[tuple[Device, Connectivity]], str, str, int]:
        """A page of devices, the cursor of the next page ("" on the last), the cursor of the
        same list in the reverse order at this page's first device ("" for an empty page),
        whose next page is the page before this one, and the total (-1 unless asked for; at most
        `total_limit` + 1 with a limit)."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        options = load(ListSchema(), {k: v for k, v in request.items() if k != "state"})
        limit = page_size(size)
        wanted = DeviceFilter(
            str(options["profile_id"] or ""),
            request.get("state"),
            options["site"],
            options["labels"],
            options["text"],
        )
        order = options["order_by"].lstrip("-")
        listing = {"tenant": tenant_id, "filter": repr(wanted), "order": options["order_by"]}
        after = from_position(decode_cursor(cursor, listing), order)
        with self._unit_of_work(read_only=True) as uow:
            found = queries.list_devices(
                uow.connection,
                tenant_id,
                wanted,
                order,
                options["order_by"].startswith("-"),
                after,
                limit + 1,
            )
            total = (
                queries.count_devices(uow.connection, tenant_id, wanted, total_limit) if include_total else -1
            )
            page = found[:limit]
            windows = self._windows.of(uow.connection, page)
        next_cursor = encode_cursor(position_of(page[-1], order), listing) if len(found) > limit else ""
        reverse = {**listing, "order": reversed_order(options["order_by"])}
        previous_cursor = encode_cursor(position_of(page[0], order), reverse) if page else ""
        now = self._clock()
        return [(d, self._connectivity(d, windows, now)) for d in page], next_cursor, previous_cursor, total

    def update(
        self, tenant_id: str, device_id: str, expected_version: int, paths: list[str], request: dict[str, Any]
    ) -> tuple[Device, Connectivity]:
        if not paths or set(paths) - set(UPDATABLE):
            raise InvalidArgument([FieldViolation("update_mask", f"name any of {', '.join(UPDATABLE)}")])
        _require_version(expected_version)
        changes = load(DeviceSchema(partial=True, only=paths), {p: request[p] for p in paths})

        def change(connection: Connection, device: Device) -> tuple[Device, list[Event]]:
            if device.state is DeviceState.DECOMMISSIONED:
                raise FailedPrecondition("a decommissioned device cannot change")
            updated = replace(device, **changes, version=device.version + 1, updated_at=self._clock())
            if "profile_version" in changes:
                _require_profile_version(connection, device.profile_id, changes["profile_version"])
            event = new_event(
                "device.updated",
                device.tenant_id,
                {
                    "device_id": device.id,
                    "version": updated.version,
                    "changed": sorted(paths),
                    "profile_id": updated.profile_id,
                    "profile_version": updated.profile_version,
                    "labels": updated.labels,
                    "attributes": updated.attributes,
                    "site": updated.site,
                },
            )
            return updated, [event]

        return self._change(tenant_id, device_id, expected_version, change)

    def change_state(
        self, tenant_id: str, device_id: str, expected_version: int, state: DeviceState | None
    ) -> tuple[Device, Connectivity]:
        _require_version(expected_version)
        if state is None:
            raise InvalidArgument([FieldViolation("state", "name the state to move to")])

        def change(connection: Connection, device: Device) -> tuple[Device, list[Event]]:
            moved = device.moved_to(state, self._clock())
            return moved, _state_events(device.tenant_id, device.id, moved.version, device.state, state)

        return self._change(tenant_id, device_id, expected_version, change)

    def _change(
        self, tenant_id: str, device_id: str, expected_version: int, change: Any
    ) -> tuple[Device, Connectivity]:
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        with self._unit_of_work() as uow:
            device = queries.find_device(uow.connection, tenant_id, device_id)
            if device is None:
                raise NotFound("device not found")
            if device.version != expected_version:
                raise VersionMismatch(f"device is at version {device.version}, not {expected_version}")
            updated, events = change(uow.connection, device)
            if not queries.save_device(uow.connection, updated, expected_version):
                raise VersionMismatch("device changed meanwhile; read it again")
            for event in events:
                uow.emit(event)
            windows = self._windows.of(uow.connection, [updated])
            uow.commit()
        if self._cache is not None:
            self._cache.forget(device.id)
        return updated, self._connectivity(updated, windows, self._clock())

    def record_batch(self, event: Event) -> bool:
        """Records that telemetry stored readings of devices: last seen, and a
        provisioned device's first accepted reading makes it active."""
        last_seen: dict[str, datetime] = {}
        for batch in event.data["devices"]:
            last_seen[batch["device_id"]] = max(
                batch["last_ts"], last_seen.get(batch["device_id"], batch["last_ts"])
            )
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return False
            queries.record_seen(uow.connection, last_seen)
            for device_id, tenant_id, version in queries.activate_provisioned(
                uow.connection, last_seen, self._clock()
            ):
                for state_event in _state_events(
                    tenant_id, device_id, version, DeviceState.PROVISIONED, DeviceState.ACTIVE
                ):
                    uow.emit(state_event)
            uow.commit()
        return True


def _resolve_profile_versions(
    connection: Connection, tenant_id: str, commands: list[dict[str, Any]], names: list[str]
) -> list[int]:
    latest = profile_queries.latest_versions(connection, tenant_id, [str(c["profile_id"]) for c in commands])
    wanted = [
        (str(c["profile_id"]), c["profile_version"] or latest.get(str(c["profile_id"]), 0)) for c in commands
    ]
    existing = profile_queries.existing_versions(connection, [w for w in wanted if w[0] in latest])
    violations = []
    for name, (profile_id, version) in zip(names, wanted, strict=True):
        if profile_id not in latest:
            violations.append(FieldViolation(f"{name}.profile_id", "no such profile"))
        elif (profile_id, version) not in existing:
            violations.append(FieldViolation(f"{name}.profile_version", "no such version of the profile"))
    if violations:
        raise InvalidArgument(violations)
    return [version for _, version in wanted]


def _require_profile_version(connection: Connection, profile_id: str, version: int) -> None:
    if (profile_id, version) not in profile_queries.existing_versions(connection, [(profile_id, version)]):
        raise InvalidArgument([FieldViolation("profile_version", "no such version of the device's profile")])


def _require_version(expected_version: int) -> None:
    if expected_version < 1:
        raise InvalidArgument([FieldViolation("expected_version", "name the version you read (1 or more)")])


def _new_device(
    tenant_id: str, command: dict[str, Any], profile_version: int, now: datetime
) -> tuple[Device, IssuedSecret]:
    device = Device(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        serial_number=command["serial_number"],
        display_name=command["display_name"],
        state=DeviceState.PROVISIONED,
        version=1,
        profile_id=str(command["profile_id"]),
        profile_version=profile_version,
        site=command["site"],
        production_line=command["production_line"],
        labels=command["labels"],
        attributes=command["attributes"],
        firmware_version=command["firmware_version"],
        created_at=now,
        updated_at=now,
    )
    return device, issue_secret(DEVICE_TOKEN_PREFIX, str(uuid.uuid4()))


def _credential(device: Device, secret: IssuedSecret, now: datetime) -> DeviceCredential:
    return DeviceCredential(secret.id, device.tenant_id, device.id, secret.secret_hash, now)


def _registered(device: Device) -> Event:
    return new_event(
        "device.registered",
        device.tenant_id,
        {
            "device_id": device.id,
            "serial_number": device.serial_number,
            "display_name": device.display_name,
            "state": device.state.value,
            "profile_id": device.profile_id,
            "profile_version": device.profile_version,
            "labels": device.labels,
            "attributes": device.attributes,
            "site": device.site,
        },
    )


def _state_events(
    tenant_id: str, device_id: str, version: int, previous: DeviceState, state: DeviceState
) -> list[Event]:
    data = {
        "device_id": device_id,
        "version": version,
        "previous_state": previous.value,
        "state": state.value,
    }
    events = [new_event("device.state_changed", tenant_id, data)]
    if state is DeviceState.DECOMMISSIONED:
        events.append(new_event("device.decommissioned", tenant_id, data))
    return events
