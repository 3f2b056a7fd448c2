"""Server-side RPC as ThingsBoard's devices see it: a call published on
`v1/devices/me/rpc/request/{id}` as `{"method": ..., "params": ...}`, and the device's answer
on `.../rpc/response/{id}`. The id in the topic is the RPC's UUID without its dashes, 32
letters and digits, as request ids are."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from services.mqtt.domain.payloads import BadPayload

RPC_REQUESTED = "device.rpc_requested"
MAX_ANSWER_BYTES = 64 * 1024


def topic_id(rpc_id: str) -> str:
    return uuid.UUID(rpc_id).hex


def rpc_id_of(request_id: str) -> str | None:
    """The RPC a response topic's id names; None for an id no server-side RPC has (a device's
    own requests are numbered by the device)."""
    if len(request_id) != 32:
        return None
    try:
        return str(uuid.UUID(hex=request_id))
    except ValueError:
        return None


def call_body(method: str, params_json: str) -> dict[str, Any]:
    """`{"method": ..., "params": ...}`, the parameters as the registry kept their JSON."""
    return {"method": method, "params": orjson.Fragment(params_json.encode()) if params_json else None}


def call_payload(method: str, params_json: str) -> bytes:
    return orjson.dumps(call_body(method, params_json))


def answer_json(payload: bytes) -> str:
    """A device's answer as JSON text: any JSON value of at most 64 KiB."""
    if len(payload) > MAX_ANSWER_BYTES:
        raise BadPayload(f"an answer over {MAX_ANSWER_BYTES} bytes")
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise BadPayload(f"an answer that is not JSON: {error}") from None
    return payload.decode()
