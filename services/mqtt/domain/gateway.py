"""ThingsBoard's gateway API payloads: what an edge gateway device publishes for the machines
behind it (keyed by their names) and the calls it relays to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from services.mqtt.domain.payloads import MAX_KEYS, BadPayload, json_object
from services.mqtt.domain.rpcs import call_body

MAX_MACHINES = 100


@dataclass(frozen=True)
class MachineAttributesRequest:
    """A gateway's request for a machine's attributes: `{"id": 1, "device": "Press-1",
    "client": false, "keys": ["a", "b"]}` (or `"key": "a"`), one scope at a time."""

    request_id: int
    name: str
    client: bool
    keys: tuple[str, ...]


@dataclass(frozen=True)
class MachineAnswer:
    name: str
    request_id: str
    answer_json: str


def machine_name(payload: bytes) -> str:
    """The machine a connect or disconnect names: `{"device": "Press-1", ...}`."""
    name = json_object(payload).get("device")
    if not isinstance(name, str) or not name:
        raise BadPayload("'device' must name the machine")
    return name


def by_machine(payload: bytes) -> dict[str, Any]:
    """Telemetry or attributes keyed by machine name: `{"Press-1": ..., "Lathe-2": ...}`."""
    document = json_object(payload)
    if not 1 <= len(document) <= MAX_MACHINES:
        raise BadPayload(f"name 1 to {MAX_MACHINES} machines")
    return document


def machine_answer(payload: bytes) -> MachineAnswer:
    """A machine's answer to a call: `{"device": "Press-1", "id": "...", "data": {...}}`."""
    document = json_object(payload)
    name, request_id = machine_name(payload), document.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        raise BadPayload("'id' must be the id of the call")
    return MachineAnswer(name, str(request_id), orjson.dumps(document.get("data")).decode())


def machine_call(name: str, request_id: str, method: str, params_json: str) -> bytes:
    """A call relayed to a machine, as the gateway API carries it."""
    return orjson.dumps({"device": name, "data": {"id": request_id, **call_body(method, params_json)}})


def attributes_request(payload: bytes) -> MachineAttributesRequest:
    document = json_object(payload)
    name, request_id, client = machine_name(payload), document.get("id"), document.get("client")
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise BadPayload("'id' must be an integer")
    if not isinstance(client, bool):
        raise BadPayload("'client' must be true (client attributes) or false (shared ones)")
    keys = [document["key"]] if "key" in document else document.get("keys")
    if not isinstance(keys, list) or not all(isinstance(key, str) and key for key in keys):
        raise BadPayload("'key' must name an attribute, or 'keys' list them")
    if len(keys) > MAX_KEYS:
        raise BadPayload(f"at most {MAX_KEYS} keys")
    return MachineAttributesRequest(request_id, name, client, tuple(keys))


def attributes_response(request: MachineAttributesRequest, found: dict[str, Any]) -> bytes:
    """ThingsBoard's answer: one attribute found is `value`, several are `values` by key,
    none is neither."""
    answer: dict[str, Any] = {"id": request.request_id, "device": request.name}
    if len(found) == 1:
        answer["value"] = next(iter(found.values()))
    elif found:
        answer["values"] = found
    return orjson.dumps(answer)


def shared_update(name: str, update: dict[str, Any]) -> bytes:
    """A machine's shared attributes changed, as ThingsBoard tells its gateway."""
    return orjson.dumps({"device": name, "data": update})
