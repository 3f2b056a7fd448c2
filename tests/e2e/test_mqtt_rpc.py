"""Server-side RPC end to end: a partner calls a device's method over HTTP, the device gets it
over MQTT (paho, ThingsBoard's SDK) and answers; calls to a device that is away wait for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest

from tests.support.client import PartnerClient
from tests.support.mqtt import WAIT_SECONDS, PahoDevice
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually

RPC_REQUESTS = "v1/devices/me/rpc/request/+"


@pytest.fixture(scope="module")
def operator(platform: Platform) -> PartnerClient:
    return PartnerClient(platform.gateway_url, OPERATOR_TOKEN)


@pytest.fixture(scope="module")
def client(operator: PartnerClient) -> PartnerClient:
    return operator.as_tenant(operator.create_tenant("Remote Works")["api_key"])


def call(client: PartnerClient, device_id: str, **body: Any) -> Any:
    return client.http.post(f"/v1/devices/{device_id}/rpc", json=body, timeout=30)


@contextmanager
def answering(port: int, token: str, version: int, answer: bool = True) -> Iterator[list[dict[str, Any]]]:
    """A paho device subscribed to its calls, answering each with what it was asked."""
    device = PahoDevice(port, token, version)
    heard: list[dict[str, Any]] = []
    subscribed = threading.Event()

    def on_message(client: paho.Client, _: object, message: paho.MQTTMessage) -> None:
        request = orjson.loads(message.payload)
        heard.append(request)
        if answer:
            reply = {"echo": request["params"], "method": request["method"]}
            response_topic = message.topic.replace("/request/", "/response/")
            client.publish(response_topic, orjson.dumps(reply), qos=1)

    device.client.on_message = on_message
    device.client.on_subscribe = lambda *_: subscribed.set()
    device.client.subscribe(RPC_REQUESTS, qos=1)
    assert subscribed.wait(WAIT_SECONDS), "no SUBACK"
    try:
        yield heard
    finally:
        device.close()


@pytest.mark.parametrize("version", [4, 5])
def test_a_paho_device_answers_a_two_way_call(
    platform: Platform, client: PartnerClient, version: int
) -> None:
    device = client.register_device()
    with answering(platform.mqtt_port, device["access_token"], version):
        answered = call(client, device["id"], method="setValve", params={"open": True, "bar": 2.5})
    assert answered.status_code == 200, answered.text
    rpc = answered.json()
    assert rpc["status"] == "succeeded"
    assert rpc["response"] == {"echo": {"open": True, "bar": 2.5}, "method": "setValve"}
    assert answered.headers["location"] == f"/v1/devices/{device['id']}/rpc/{rpc['id']}"


def test_thingsboards_sdk_answers_a_two_way_call(platform: Platform, client: PartnerClient) -> None:
    from tb_device_mqtt import TBDeviceMqttClient

    device = client.register_device()
    sdk = TBDeviceMqttClient("127.0.0.1", port=platform.mqtt_port, username=device["access_token"])
    sdk.set_server_side_rpc_request_handler(
        lambda request_id, body: sdk.send_rpc_reply(request_id, {"rpm": body["params"]["rpm"] * 2})
    )
    sdk.connect()
    try:
        eventually(sdk.is_connected, WAIT_SECONDS, "the SDK to connect")
        # The SDK subscribes as it connects: an attributes request answered means that
        # its subscription to calls, sent before it, was taken.
        listened = threading.Event()
        sdk.request_attributes(shared_keys=["recipe"], callback=lambda *_: listened.set())
        assert listened.wait(WAIT_SECONDS)
        answered = call(client, device["id"], method="setSpeed", params={"rpm": 600}, timeout_ms=5000)
    finally:
        sdk.disconnect()
    assert answered.status_code == 200, answered.text
    assert answered.json()["response"] == {"rpm": 1200}


def test_a_one_way_call_ends_once_delivered(platform: Platform, client: PartnerClient) -> None:
    device = client.register_device()
    with answering(platform.mqtt_port, device["access_token"], 5, answer=False) as heard:
        delivered = call(client, device["id"], method="blink", one_way=True)
        eventually(lambda: heard, what="the call to reach the device")
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "delivered"
    assert heard == [{"method": "blink", "params": None}]


def test_an_unanswered_call_times_out_with_504(platform: Platform, client: PartnerClient) -> None:
    device = client.register_device()
    with answering(platform.mqtt_port, device["access_token"], 5, answer=False):
        late = call(client, device["id"], method="slow", timeout_ms=300)
    assert late.status_code == 504
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["type"] == "urn:gantry:problem:rpc-timeout"


def test_a_call_to_a_device_away_waits_until_it_connects(platform: Platform, client: PartnerClient) -> None:
    device = client.register_device()
    away = call(client, device["id"], method="reset", params=[1, 2], timeout_ms=200, expires_in_seconds=60)
    assert away.status_code == 504
    rpc_url = away.headers["location"]
    assert client.http.get(rpc_url).json()["status"] == "queued"
    with answering(platform.mqtt_port, device["access_token"], 4) as heard:
        eventually(lambda: client.http.get(rpc_url).json()["status"] == "succeeded", what="the answer")
    assert heard == [{"method": "reset", "params": [1, 2]}]
    listed = client.http.get(f"/v1/devices/{device['id']}/rpc").json()
    assert [(rpc["method"], rpc["status"], rpc["response"]) for rpc in listed["items"]] == [
        ("reset", "succeeded", {"echo": [1, 2], "method": "reset"})
    ]


def test_another_tenants_device_is_not_found(operator: PartnerClient, client: PartnerClient) -> None:
    device = client.register_device()
    stranger = operator.as_tenant(operator.create_tenant("Nosy Works")["api_key"])
    assert call(stranger, device["id"], method="reset").status_code == 404
    assert stranger.http.get(f"/v1/devices/{device['id']}/rpc").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "method"),
        ({"method": "m" * 129}, "method"),
        ({"method": "m", "timeout_ms": 10}, "timeout_ms"),
        ({"method": "m", "timeout_ms": "soon"}, "timeout_ms"),
        ({"method": "m", "expires_in_seconds": 10**9}, "expires_in_seconds"),
        ({"method": "m", "one_way": "maybe"}, "one_way"),
    ],
    ids=["no-method", "long-method", "short-timeout", "text-timeout", "long-expiry", "not-bool"],
)
def test_bad_calls_name_the_field(client: PartnerClient, body: dict[str, Any], field: str) -> None:
    device = client.register_device()
    refused = call(client, device["id"], **body)
    assert refused.status_code == 422, refused.text
    assert [error["field"] for error in refused.json()["errors"]] == [field]
