"""The JSON payloads of ThingsBoard's device API that the adapter reads or writes itself.
Telemetry is not among them: telemetry reads its three shapes once, for HTTP and MQTT alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

MAX_KEYS = 100
MAX_KEY_LENGTH = 128


class BadPayload(ValueError):
    """A payload that is not the JSON its topic takes; the message says why."""


@dataclass(frozen=True)
class AttributesRequest:
    """Which attributes a device asks for; empty tuples ask for every key of that kind."""

    client_keys: tuple[str, ...]
    shared_keys: tuple[str, ...]


@dataclass(frozen=True)
class RpcCall:
    method: str
    params: Any


def json_object(payload: bytes) -> dict[str, Any]:
    """A payload that must be one JSON object (client attributes, requests)."""
    try:
        document = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError as error:
        raise BadPayload(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadPayload("expected a JSON object")
    return document


def attributes_request(payload: bytes) -> AttributesRequest:
    """ThingsBoard's `{"clientKeys": "a,b", "sharedKeys": "c"}`; an array of keys is taken too."""
    document = json_object(payload)
    return AttributesRequest(_keys(document, "clientKeys"), _keys(document, "sharedKeys"))


def rpc_call(payload: bytes) -> RpcCall:
    """A device's own RPC: `{"method": "...", "params": ...}`."""
    document = json_object(payload)
    method = document.get("method")
    if not isinstance(method, str) or not method:
        raise BadPayload("'method' must be a non-empty string")
    return RpcCall(method, document.get("params"))


def attribute_values(client: dict[str, Any], shared: dict[str, Any]) -> bytes:
    return orjson.dumps({"client": client, "shared": shared})


def session_limits(max_payload_bytes: int, messages_per_second: float, max_inflight: int) -> bytes:
    """The answer to ThingsBoard's `getSessionLimits` RPC, with which its SDK paces itself
    (at 80 % of what it is told). Rate limits are `"messages:seconds,"` windows."""
    window = f"{max(1, int(messages_per_second))}:1,"
    return orjson.dumps(
        {
            "maxPayloadSize": max_payload_bytes,
            "maxInflightMessages": max_inflight,
            "rateLimits": {"messages": window, "telemetryMessages": window, "telemetryDataPoints": ""},
        }
    )


def rpc_error(message: str) -> bytes:
    return orjson.dumps({"error": message})


def _keys(document: dict[str, Any], field: str) -> tuple[str, ...]:
    listed = document.get(field, "")
    if isinstance(listed, str):
        keys = [key.strip() for key in listed.split(",")]
    elif isinstance(listed, list) and all(isinstance(key, str) for key in listed):
        keys = [key.strip() for key in listed]
    else:
        raise BadPayload(f"'{field}' must be a comma-separated string or an array of strings")
    keys = [key for key in keys if key]
    if len(keys) > MAX_KEYS or any(len(key) > MAX_KEY_LENGTH for key in keys):
        raise BadPayload(f"'{field}' names at most {MAX_KEYS} keys of at most {MAX_KEY_LENGTH} characters")
    return tuple(keys)
