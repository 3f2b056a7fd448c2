"""Use cases of server-side RPCs: partners call a device's method; protocol adapters take
the calls for the devices connected to them and bring back their answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from marshmallow import Schema, fields, validate

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.kit.events import Event, new_event
from services.kit.pagination import decode_cursor, encode_cursor, page_size
from services.kit.validation import load, require_uuid, text
from services.registry.domain import DeviceState
from services.registry.domain_rpcs import Rpc, RpcStatus
from services.registry.queries import rpcs as queries
from services.registry.queries.devices import find_device
from services.registry.usecases import Clock, UnitOfWorkFactory, utc_now

MAX_JSON_BYTES = 64 * 1024
DEFAULT_TIMEOUT_MS = 10_000
MAX_CLAIMED = 100


class SendSchema(Schema):
    method = text(128)
    one_way = fields.Boolean(load_default=False)
    timeout_ms = fields.Integer(load_default=DEFAULT_TIMEOUT_MS, validate=validate.Range(100, 60_000))
    expires_in_seconds = fields.Integer(load_default=0, validate=validate.Range(0, 7 * 24 * 3600))


class Rpcs:
    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def send(
        self, rpc_id: str, tenant_id: str, device_id: str, request: dict[str, Any], params_json: str
    ) -> Rpc:
        """Keeps a new RPC for delivery and announces it to the protocol adapters."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        command = load(SendSchema(), {k: v for k, v in request.items() if v not in (0, None)})
        params = json_value(params_json, "params")
        now = self._clock()
        waits = max(
            timedelta(milliseconds=command["timeout_ms"]), timedelta(seconds=command["expires_in_seconds"])
        )
        rpc = Rpc(
            id=rpc_id,
            tenant_id=tenant_id,
            device_id=device_id,
            method=command["method"],
            params=params,
            one_way=command["one_way"],
            timeout_ms=command["timeout_ms"],
            status=RpcStatus.QUEUED,
            response=None,
            created_at=now,
            sent_at=None,
            answered_at=None,
            expires_at=now + waits,
        )
        with self._unit_of_work() as uow:
            device = find_device(uow.connection, tenant_id, device_id)
            if device is None:
                raise NotFound("device not found")
            if device.state is DeviceState.DECOMMISSIONED:
                raise FailedPrecondition("a decommissioned device takes no RPC")
            queries.add_rpc(uow.connection, rpc)
            uow.emit(_requested(rpc))
            uow.commit()
        return rpc

    def get(self, tenant_id: str, device_id: str, rpc_id: str) -> Rpc:
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        rpc_id = require_uuid(rpc_id, "rpc_id")
        with self._unit_of_work(read_only=True) as uow:
            found = queries.find_rpc(uow.connection, tenant_id, device_id, rpc_id)
        if found is None:
            raise NotFound("RPC not found")
        return found.as_of(self._clock())

    def list(self, tenant_id: str, device_id: str, size: int, cursor: str) -> tuple[list[Rpc], str]:
        """The device's RPCs, newest first, and the cursor of the next page."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        limit = page_size(size)
        listing = {"tenant": tenant_id, "device": device_id}
        before = _from_position(decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            if find_device(uow.connection, tenant_id, device_id) is None:
                raise NotFound("device not found")
            found = queries.list_rpcs(uow.connection, tenant_id, device_id, before, limit + 1)
        page = found[:limit]
        last = page[-1] if page else None
        next_cursor = (
            encode_cursor([last.created_at.isoformat(), last.id], listing)
            if last and len(found) > limit
            else ""
        )
        now = self._clock()
        return [rpc.as_of(now) for rpc in page], next_cursor

    def claim(self, tenant_id: str, device_id: str, rpc_ids: Sequence[str]) -> list[Rpc]:
        """Takes the device's RPCs awaiting delivery, for a protocol adapter to deliver now."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        if len(rpc_ids) > MAX_CLAIMED:
            raise InvalidArgument([FieldViolation("rpc_ids", f"at most {MAX_CLAIMED}")])
        rpc_ids = [require_uuid(rpc_id, f"rpc_ids[{i}]") for i, rpc_id in enumerate(rpc_ids)]
        with self._unit_of_work() as uow:
            claimed = queries.claim_rpcs(uow.connection, tenant_id, device_id, rpc_ids, self._clock())
            for rpc in claimed:
                uow.emit(_changed(rpc))
            uow.commit()
        return claimed

    def answer(self, tenant_id: str, device_id: str, rpc_id: str, response_json: str) -> Rpc:
        """Records the device's answer to a two-way RPC it was sent."""
        tenant_id, device_id = require_uuid(tenant_id, "tenant_id"), require_uuid(device_id, "device_id")
        rpc_id = require_uuid(rpc_id, "rpc_id")
        response = json_value(response_json, "response")
        with self._unit_of_work() as uow:
            answered = queries.answer_rpc(
                uow.connection, tenant_id, device_id, rpc_id, response, self._clock()
            )
            if answered is None:
                raise NotFound("no RPC of the device awaits this answer")
            uow.emit(_changed(answered))
            uow.commit()
        return answered


def json_value(document: str, field: str) -> Any:
    """Any JSON value of at most 64 KiB; empty text is null."""
    if len(document.encode()) > MAX_JSON_BYTES:
        raise InvalidArgument([FieldViolation(field, f"at most {MAX_JSON_BYTES} bytes of JSON")])
    try:
        return orjson.loads(document) if document else None
    except orjson.JSONDecodeError:
        raise InvalidArgument([FieldViolation(field, "must be JSON")]) from None


def _requested(rpc: Rpc) -> Event:
    return new_event(
        "device.rpc_requested",
        rpc.tenant_id,
        {
            "rpc_id": rpc.id,
            "device_id": rpc.device_id,
            "method": rpc.method,
            "params": rpc.params,
            "one_way": rpc.one_way,
            "expires_at": rpc.expires_at.isoformat(),
        },
    )


def _changed(rpc: Rpc) -> Event:
    data = {"rpc_id": rpc.id, "device_id": rpc.device_id, "status": rpc.status.value}
    return new_event("device.rpc_changed", rpc.tenant_id, data)


def _from_position(position: list[Any] | None) -> tuple[datetime, str] | None:
    if position is None:
        return None
    try:
        return datetime.fromisoformat(position[0]), str(position[1])
    except (ValueError, TypeError, IndexError):
        raise InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")]) from None
