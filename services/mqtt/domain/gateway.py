"""ThingsBoard's gateway API payloads: what an edge gateway device publishes for the machines
behind it (keyed by their names) and the calls it relays to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from services.mqtt.domain.payloads import BadPayload, json_object
from services.mqtt.domain.rpcs import call_body

MAX_MACHINES = 100


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
