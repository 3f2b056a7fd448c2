"""ThingsBoard's gateway API for machines' attributes, with its own SDK and with paho: a
gateway asks for a machine's client or shared attributes on `v1/gateway/attributes/request`
and hears the answer on `v1/gateway/attributes/response`, and hears of changes to the
shared attributes of the machines connected through it on `v1/gateway/attributes`."""

from __future__ import annotations

import queue
import uuid
from typing import Any

import mqtt5
import orjson
import pytest

from tests.support.client import PartnerClient
from tests.support.mqtt import WAIT_SECONDS, PahoDevice, RawClient, gateway_device
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Attribute Works")["api_key"])


def share(client: PartnerClient, name: str, values: dict[str, Any]) -> None:
    """Sets a machine's shared attributes, as its tenant does."""
    [machine] = client.http.get("/v1/devices", params={"q": name}).json()["items"]
    patched = client.http.patch(
        f"/v1/devices/{machine['id']}",
        json={"attributes": values},
        headers={"If-Match": f'"{machine["version"]}"'},
    )
    assert patched.status_code == 200, patched.text


def test_the_sdk_reads_and_hears_of_a_machines_attributes(platform: Platform, client: PartnerClient) -> None:
    from tb_gateway_mqtt import TBGatewayMqttClient

    gateway = gateway_device(client)
    name = f"Press-{uuid.uuid4().hex[:8]}"
    sdk = TBGatewayMqttClient("127.0.0.1", port=platform.mqtt_port, username=gateway["access_token"])
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    updates: queue.Queue[dict[str, Any]] = queue.Queue()
    sdk.connect()
    try:
        eventually(sdk.is_connected, WAIT_SECONDS, "the SDK to connect")
        sdk.gw_connect_device(name).get()
        sdk.gw_send_attributes(name, {"firmware": "4.2", "model": "P-100"}).get()
        sdk.gw_request_client_attributes(name, ["firmware"], lambda content, _e: answers.put(content))
        assert answers.get(timeout=WAIT_SECONDS) == {"id": 1, "device": name, "value": "4.2"}
        sdk.gw_request_client_attributes(
            name, ["firmware", "model"], lambda content, _e: answers.put(content)
        )
        both = answers.get(timeout=WAIT_SECONDS)
        assert both["values"] == {"firmware": "4.2", "model": "P-100"}

        sdk.gw_subscribe_to_all_device_attributes(name, updates.put)
        share(client, name, {"stroke_mm": 40})
        assert updates.get(timeout=WAIT_SECONDS) == {"device": name, "data": {"stroke_mm": 40}}
        sdk.gw_request_shared_attributes(name, ["stroke_mm"], lambda content, _e: answers.put(content))
        assert answers.get(timeout=WAIT_SECONDS)["value"] == 40
        share(client, name, {"speed": 3})
        assert updates.get(timeout=WAIT_SECONDS) == {
            "device": name,
            "data": {"speed": 3, "deleted": ["stroke_mm"]},
        }
    finally:
        sdk.disconnect()


def test_a_bad_attributes_request_is_refused(platform: Platform, client: PartnerClient) -> None:
    gateway = gateway_device(client)
    raw = RawClient(platform.mqtt_port)
    try:
        assert raw.connect5(gateway["access_token"]).reason_code == 0
        request = orjson.dumps({"id": 1, "device": "Press-1", "keys": ["a"]})  # no "client"
        raw.send(
            mqtt5.PublishPacket(
                "v1/gateway/attributes/request", request, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1
            ).write()
        )
        puback = raw.packet5()
        assert isinstance(puback, mqtt5.PubAckPacket)
        assert puback.reason_code == mqtt5.PubAckReasonCode.PAYLOAD_FORMAT_INVALID
    finally:
        raw.close()


def test_a_machine_of_another_tenant_is_never_read(platform: Platform, client: PartnerClient) -> None:
    """A name resolves in the gateway's own tenant: another tenant's machine of that name is not it."""
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    other = operator.as_tenant(operator.create_tenant("Other Works")["api_key"])
    theirs = other.register_device()
    share(other, theirs["serial_number"], {"secret_setting": 7})
    gateway = gateway_device(client)
    raw = RawClient(platform.mqtt_port)
    try:
        raw.connect5(gateway["access_token"])
        request = orjson.dumps(
            {"id": 5, "device": theirs["serial_number"], "client": False, "keys": ["secret_setting"]}
        )
        raw.send(
            mqtt5.PublishPacket(
                "v1/gateway/attributes/request", request, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1
            ).write()
        )
        answer = raw.packet5()
        assert isinstance(answer, mqtt5.PublishPacket) and answer.topic == "v1/gateway/attributes/response"
        assert orjson.loads(answer.payload) == {"id": 5, "device": theirs["serial_number"]}
    finally:
        raw.close()


def test_paho_asks_for_one_shared_attribute_by_key_over_3_1_1(
    platform: Platform, client: PartnerClient
) -> None:
    gateway = gateway_device(client)
    name = f"Lathe-{uuid.uuid4().hex[:8]}"
    heard: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    paho_gateway = PahoDevice(platform.mqtt_port, gateway["access_token"], 4)
    paho_gateway.client.on_message = lambda _c, _d, message: heard.put(
        (message.topic, orjson.loads(message.payload))
    )
    try:
        paho_gateway.client.subscribe([("v1/gateway/attributes/response", 1), ("v1/gateway/attributes", 1)])
        paho_gateway.publish("v1/gateway/connect", orjson.dumps({"device": name}))
        share(client, name, {"target_rpm": 1200, "coolant": "on"})
        assert heard.get(timeout=WAIT_SECONDS) == (
            "v1/gateway/attributes",
            {"device": name, "data": {"target_rpm": 1200, "coolant": "on"}},
        )
        request = {"id": 42, "device": name, "client": False, "key": "target_rpm"}
        paho_gateway.publish("v1/gateway/attributes/request", orjson.dumps(request))
        assert heard.get(timeout=WAIT_SECONDS) == (
            "v1/gateway/attributes/response",
            {"id": 42, "device": name, "value": 1200},
        )
    finally:
        paho_gateway.close()
