"""Device provisioning end to end, as ThingsBoard's MQTT and HTTP APIs do it: a profile's
settings over HTTP, a device that connects as `provision`, asks on `/provision/request`
and is answered on `/provision/response` with its token, or refused in ThingsBoard's words."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import mqtt5
import orjson
import paho.mqtt.client as paho
import pytest

from tests.support.client import PartnerClient
from tests.support.mqtt import TELEMETRY, WAIT_SECONDS, PahoDevice, RawClient, adapter
from tests.support.platform import OPERATOR_TOKEN, Platform

SECRET = "provision-secret-of-the-mills"
NOT_FOUND = {"errorMsg": "Provision data was not found!", "status": "NOT_FOUND"}
FAILURE = {"errorMsg": "Failed to provision device!", "status": "FAILURE"}
PROVISION_BURST = 3


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Provisioned Works")["api_key"])


def provisioning_of(client: PartnerClient, strategy: str) -> tuple[str, str]:
    """A new profile provisioning by `strategy`; (profile id, provision key)."""
    profile = client.create_profile()["id"]
    key = f"key-{uuid.uuid4().hex[:12]}"
    answer = client.http.put(
        f"/v1/device-profiles/{profile}/provisioning",
        json={"strategy": strategy, "provision_key": key, "provision_secret": SECRET},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["provision_secret"] == SECRET
    return profile, key


def provision(port: int, request: dict[str, Any], version: int = 4) -> dict[str, Any]:
    """ThingsBoard's provisioning script with paho: subscribe, ask, read the answer."""
    answers: queue.Queue[bytes] = queue.Queue()
    device = paho.Client(
        paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5 if version == 5 else paho.MQTTv311
    )
    device.username_pw_set("provision")
    device.on_message = lambda _client, _data, message: answers.put(message.payload)
    device.connect("127.0.0.1", port, keepalive=30)
    device.loop_start()
    try:
        device.subscribe("/provision/response", qos=1)
        device.publish("/provision/request", orjson.dumps(request), qos=1).wait_for_publish(WAIT_SECONDS)
        return orjson.loads(answers.get(timeout=WAIT_SECONDS))
    finally:
        device.disconnect()
        device.loop_stop()


def request_of(key: str, name: str, secret: str = SECRET, **more: str) -> dict[str, str]:
    return {"deviceName": name, "provisionDeviceKey": key, "provisionDeviceSecret": secret, **more}


def connects(port: int, token: str) -> bool:
    device = PahoDevice(port, token, 4)
    try:
        return not device.reason.is_failure  # type: ignore[union-attr]
    finally:
        device.close()


@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5.0"])
def test_a_new_device_provisions_itself_and_connects_with_its_token(
    platform: Platform, client: PartnerClient, version: int
) -> None:
    profile, key = provisioning_of(client, "allow_create_new_devices")
    name = f"Mill-{uuid.uuid4().hex[:8]}"
    answer = provision(platform.mqtt_port, request_of(key, name), version)
    assert (answer["status"], answer["credentialsType"]) == ("SUCCESS", "ACCESS_TOKEN")
    assert connects(platform.mqtt_port, answer["credentialsValue"])
    [device] = client.http.get("/v1/devices", params={"q": name}).json()["items"]
    assert (device["serial_number"], device["profile_id"]) == (name, profile)
    # A name taken is refused, as ThingsBoard refuses it.
    assert provision(platform.mqtt_port, request_of(key, name), version) == FAILURE


def test_a_device_may_choose_its_access_token(platform: Platform, client: PartnerClient) -> None:
    _, key = provisioning_of(client, "allow_create_new_devices")
    token = f"chosen-{uuid.uuid4().hex}"
    wanted = request_of(key, f"Mill-{uuid.uuid4().hex[:8]}", credentialsType="ACCESS_TOKEN", token=token)
    assert provision(platform.mqtt_port, wanted)["credentialsValue"] == token
    assert connects(platform.mqtt_port, token)
    other = request_of(key, "Mill-x509", credentialsType="X509_CERTIFICATE", hash="abc")
    assert provision(platform.mqtt_port, other) == FAILURE


@pytest.mark.parametrize("wrong", ["key", "secret"])
def test_a_wrong_key_or_secret_is_not_found(platform: Platform, client: PartnerClient, wrong: str) -> None:
    _, key = provisioning_of(client, "allow_create_new_devices")
    bad = (
        request_of(f"{key}-x", "Mill-1") if wrong == "key" else request_of(key, "Mill-1", "wrong-secret-0000")
    )
    assert provision(platform.mqtt_port, bad) == NOT_FOUND


def test_disabled_provisioning_is_not_found(platform: Platform, client: PartnerClient) -> None:
    _, key = provisioning_of(client, "disabled")
    assert provision(platform.mqtt_port, request_of(key, "Mill-1")) == NOT_FOUND


def test_a_pre_provisioned_device_provisions_once(platform: Platform, client: PartnerClient) -> None:
    profile, key = provisioning_of(client, "check_pre_provisioned_devices")
    client._profile_id = profile
    registered = client.register_device()
    first = provision(platform.mqtt_port, request_of(key, registered["serial_number"]))
    assert first["status"] == "SUCCESS"
    assert connects(platform.mqtt_port, first["credentialsValue"])
    assert provision(platform.mqtt_port, request_of(key, registered["serial_number"])) == FAILURE
    assert provision(platform.mqtt_port, request_of(key, "Mill-never-registered")) == FAILURE
    client._profile_id = None


def test_a_provisioning_connection_uses_its_own_topics_only(platform: Platform) -> None:
    raw = RawClient(platform.mqtt_port)
    try:
        assert raw.connect5("provision").reason_code == 0
        raw.send(
            mqtt5.SubscribePacket(
                1, [mqtt5.TopicFilter("v1/devices/me/attributes"), mqtt5.TopicFilter("/provision/response")]
            ).write()
        )
        suback = raw.packet5()
        assert isinstance(suback, mqtt5.SubAckPacket)
        assert suback.reason_codes == [
            mqtt5.SubAckReasonCode.NOT_AUTHORIZED,
            mqtt5.SubAckReasonCode.GRANTED_QOS_AT_LEAST_ONCE,
        ]
        raw.send(
            mqtt5.PublishPacket(TELEMETRY, b'{"t": 1}', qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=2).write()
        )
        puback = raw.packet5()
        assert isinstance(puback, mqtt5.PubAckPacket)
        assert puback.reason_code == mqtt5.PubAckReasonCode.NOT_AUTHORIZED
        raw.send(
            mqtt5.PublishPacket(
                "/provision/request", b"[1]", qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=3
            ).write()
        )
        refused = raw.packet5()
        assert isinstance(refused, mqtt5.PubAckPacket)
        assert refused.reason_code == mqtt5.PubAckReasonCode.PAYLOAD_FORMAT_INVALID
    finally:
        raw.close()


@pytest.fixture(scope="module")
def limited_port(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    logs = tmp_path_factory.mktemp("mqtt-provisioning")
    with adapter(platform, logs, provision_rate_per_second=0.001, provision_burst=PROVISION_BURST) as port:
        yield port


def test_provisioning_requests_beyond_the_addresss_rate_are_closed(limited_port: int) -> None:
    """Guessing secrets costs a connection once the burst is spent, reconnecting or not."""
    wanted = request_of("key-of-nobody-at-all", "Mill-1", "guessed-secret-000")
    for _ in range(PROVISION_BURST):
        assert provision(limited_port, wanted) == NOT_FOUND
    raw = RawClient(limited_port)
    try:
        raw.connect5("provision")
        raw.send(
            mqtt5.PublishPacket(
                "/provision/request", orjson.dumps(wanted), qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1
            ).write()
        )
        packet = raw.packet5()
        assert isinstance(packet, mqtt5.DisconnectPacket)
        assert packet.reason_code == mqtt5.DisconnectReasonCode.MESSAGE_RATE_TOO_HIGH
    finally:
        raw.close()


def test_settings_over_http_show_the_secret_once(platform: Platform, client: PartnerClient) -> None:
    profile = client.create_profile()["id"]
    url = f"/v1/device-profiles/{profile}/provisioning"
    assert client.http.get(url).json()["strategy"] == "disabled"
    made = client.http.put(url, json={"strategy": "allow_create_new_devices"}).json()
    assert len(made["provision_key"]) >= 8 and len(made["provision_secret"]) >= 16
    shown = client.http.get(url).json()
    assert shown == {k: v for k, v in made.items() if k != "provision_secret"}
    bad = client.http.put(url, json={"strategy": "sometimes", "provision_key": "short"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in bad.json()["errors"]} == {"strategy", "provision_key"}
    taken = client.http.put(
        url.replace(profile, client.create_profile()["id"]),
        json={"strategy": "disabled", "provision_key": made["provision_key"]},
    )
    assert taken.status_code == 409


def test_another_tenants_profile_is_not_found(platform: Platform, client: PartnerClient) -> None:
    profile, _ = provisioning_of(client, "allow_create_new_devices")
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    stranger = operator.as_tenant(operator.create_tenant("Stranger Works")["api_key"])
    url = f"/v1/device-profiles/{profile}/provisioning"
    assert stranger.http.get(url).status_code == 404
    assert stranger.http.put(url, json={"strategy": "disabled"}).status_code == 404


def test_http_provisioning_answers_as_thingsboard(platform: Platform, client: PartnerClient) -> None:
    _, key = provisioning_of(client, "allow_create_new_devices")
    url = f"{platform.gateway_url}/api/v1/provision"
    name = f"Mill-{uuid.uuid4().hex[:8]}"
    made = httpx.post(url, json=request_of(key, name), timeout=10)
    assert made.status_code == 200 and made.json()["status"] == "SUCCESS"
    token = made.json()["credentialsValue"]
    sent = httpx.post(f"{platform.gateway_url}/api/v1/{token}/attributes", json={"fw": "1.0"}, timeout=10)
    assert sent.status_code == 200
    assert httpx.post(url, json=request_of(key, name), timeout=10).json() == FAILURE
    assert httpx.post(url, json=request_of(key, name, "wrong-secret-0000"), timeout=10).json() == NOT_FOUND
    bad = httpx.post(url, content=b"[1]", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
