"""Server-side calls and the gateway API as devices see them: topics, ids and payloads."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import orjson
import pytest

from services.mqtt.domain import gateway, rpcs, topics
from services.mqtt.domain.payloads import BadPayload
from services.mqtt.domain.topics import Destination, Kind


def test_a_calls_id_in_its_topic_is_its_uuid_without_dashes_and_back() -> None:
    rpc_id = str(uuid.uuid4())
    request_id = rpcs.topic_id(rpc_id)
    assert topics.destination(topics.RPC_RESPONSE + request_id) == Destination(Kind.RPC_RESPONSE, request_id)
    assert rpcs.rpc_id_of(request_id) == rpc_id
    assert rpcs.rpc_id_of("17") is None
    assert rpcs.rpc_id_of("z" * 32) is None


def test_a_call_carries_its_parameters_as_the_registry_kept_them() -> None:
    assert orjson.loads(rpcs.call_payload("setValve", '{"open":true}')) == {
        "method": "setValve",
        "params": {"open": True},
    }
    assert orjson.loads(rpcs.call_payload("blink", "")) == {"method": "blink", "params": None}


@pytest.mark.parametrize("payload", [b"{not json", b'"' + b"x" * 70_000 + b'"'], ids=["not-json", "huge"])
def test_answers_must_be_json_of_bounded_size(payload: bytes) -> None:
    with pytest.raises(BadPayload):
        rpcs.answer_json(payload)


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("v1/gateway/connect", Kind.GATEWAY_CONNECT),
        ("v1/gateway/disconnect", Kind.GATEWAY_DISCONNECT),
        ("v1/gateway/telemetry", Kind.GATEWAY_TELEMETRY),
        ("v1/gateway/attributes", Kind.GATEWAY_ATTRIBUTES),
        ("v1/gateway/rpc", Kind.GATEWAY_RPC),
        ("v1/gateway/claim", None),
    ],
)
def test_the_gateway_apis_topics(topic: str, kind: Kind | None) -> None:
    where = topics.destination(topic)
    assert (where.kind if where else None) == kind


def test_a_gateway_subscribes_to_its_machines_calls_and_attributes() -> None:
    for topic_filter in ("v1/gateway/rpc", "v1/gateway/attributes", "v1/gateway/attributes/response"):
        assert topics.may_subscribe(topic_filter)
    assert not topics.may_subscribe("v1/gateway/#")


def test_gateway_payloads_name_their_machines() -> None:
    assert gateway.machine_name(b'{"device": "Press-1", "type": "default"}') == "Press-1"
    assert gateway.by_machine(b'{"Press-1": [{"ts": 1, "values": {"t": 2}}]}') == {
        "Press-1": [{"ts": 1, "values": {"t": 2}}]
    }
    answer = gateway.machine_answer(b'{"device": "Press-1", "id": "abc", "data": {"ok": true}}')
    assert (answer.name, answer.request_id, orjson.loads(answer.answer_json)) == (
        "Press-1",
        "abc",
        {"ok": True},
    )
    relayed = orjson.loads(gateway.machine_call("Press-1", "abc", "press", "[1]"))
    assert relayed == {"device": "Press-1", "data": {"id": "abc", "method": "press", "params": [1]}}


@pytest.mark.parametrize(
    ("read", "payload"),
    [
        (gateway.machine_name, b'{"type": "default"}'),
        (gateway.machine_name, b'{"device": 7}'),
        (gateway.machine_name, b"[1]"),
        (gateway.by_machine, b"{}"),
        (gateway.machine_answer, b'{"device": "P", "id": true}'),
    ],
    ids=["no-device", "number-device", "array", "no-machine", "bool-id"],
)
def test_malformed_gateway_payloads_are_refused(read: Callable[[bytes], object], payload: bytes) -> None:
    with pytest.raises(BadPayload):
        read(payload)
