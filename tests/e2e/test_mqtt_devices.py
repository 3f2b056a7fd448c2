"""Devices on ThingsBoard's MQTT API, end to end: paho (3.1.1 and 5.0) and ThingsBoard's own
SDK publish through the adapter, and what they were acknowledged is queryable in telemetry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import mqtt5
import orjson
import pytest
from gantry.v1 import telemetry_pb2, telemetry_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from tests.support.client import PartnerClient
from tests.support.mqtt import (
    TELEMETRY,
    WAIT_SECONDS,
    PahoDevice,
    RawClient,
    adapter,
    known_device,
    self_signed_pair,
)
from tests.support.platform import OPERATOR_TOKEN, Platform, free_port
from tests.support.waiting import eventually

# The registry's event reaches the adapter within this, end to end, on a loaded test machine.
REVOCATION_SECONDS = 5.0


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Connected Works")["api_key"])


@pytest.fixture(scope="module")
def telemetry(platform: Platform) -> Iterator[telemetry_pb2_grpc.TelemetryServiceStub]:
    with grpc.insecure_channel(platform.grpc_target("telemetry")) as channel:
        yield telemetry_pb2_grpc.TelemetryServiceStub(channel)


def moved_to(client: PartnerClient, device_id: str, *states: str) -> None:
    """Takes a device through `states`, whatever changes it meanwhile (its first readings
    activate it)."""
    for state in states:

        def moved(state: str = state) -> bool:
            current = client.http.get(f"/v1/devices/{device_id}").json()
            if current["state"] == state:
                return True
            etag = {"If-Match": f'"{current["version"]}"'}
            return client.http.post(
                f"/v1/devices/{device_id}/state", json={"state": state}, headers=etag
            ).is_success

        eventually(moved, what=f"the device to become {state}")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def stored(stub: telemetry_pb2_grpc.TelemetryServiceStub, device: dict[str, Any], channel: str) -> list[Any]:
    start, end = Timestamp(), Timestamp()
    start.FromMilliseconds(now_ms() - 3_600_000)
    end.FromMilliseconds(now_ms() + 60_000)
    request = telemetry_pb2.QueryRangeRequest(
        tenant_id=device["tenant_id"], device_id=device["id"], channels=[channel], start=start, end=end
    )
    readings = stub.QueryRange(request, timeout=5).readings
    return [
        (r.ts.ToMilliseconds(), r.value.WhichOneof("kind"), getattr(r.value, r.value.WhichOneof("kind")))
        for r in readings
    ]


@pytest.mark.parametrize("version", [4, 5])
def test_paho_readings_acknowledged_at_qos_1_are_queryable_in_every_thingsboard_shape(
    platform: Platform,
    client: PartnerClient,
    telemetry: telemetry_pb2_grpc.TelemetryServiceStub,
    version: int,
) -> None:
    device = known_device(platform, client)
    device_client = PahoDevice(platform.mqtt_port, device["access_token"], version)
    try:
        assert device_client.reason == 0
        base = now_ms() - 10_000
        device_client.publish(TELEMETRY, orjson.dumps({"ts": base, "values": {"spindle_temp": 21.5}}))
        device_client.publish(
            TELEMETRY,
            orjson.dumps(
                [
                    {"ts": base + 1, "values": {"spindle_temp": 22.5}},
                    {"ts": base + 2, "values": {"spindle_temp": 23.5}},
                ]
            ),
        )
        device_client.publish(TELEMETRY, orjson.dumps({"spindle_temp": 24.5}), qos=1)
    finally:
        device_client.close()

    def all_four() -> list[Any] | None:
        found = stored(telemetry, device, "spindle_temp")
        return found if len(found) == 4 else None

    readings = eventually(all_four, what="the acknowledged readings to be stored")
    assert [value for _, _, value in readings] == [21.5, 22.5, 23.5, 24.5]
    assert [ts for ts, _, _ in readings[:3]] == [base, base + 1, base + 2]


def test_a_bad_token_gets_thingsboards_refusal_in_each_version(platform: Platform) -> None:
    for version, expected in ((4, "Not authorized"), (5, "Bad user name or password")):
        refused = PahoDevice(platform.mqtt_port, "gdt_not_a_token", version)
        refused.close()
        assert refused.reason is not None and refused.reason.getName() == expected, (version, refused.reason)


def test_thingsboards_sdk_sends_telemetry_and_reads_back_its_attributes(
    platform: Platform, client: PartnerClient, telemetry: telemetry_pb2_grpc.TelemetryServiceStub
) -> None:
    from tb_device_mqtt import TBDeviceMqttClient

    device = known_device(platform, client)
    patched = client.http.patch(
        f"/v1/devices/{device['id']}",
        json={"attributes": {"target_rpm": 12000, "recipe": "A7"}},
        headers={"If-Match": f'"{device["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    sdk = TBDeviceMqttClient("127.0.0.1", port=platform.mqtt_port, username=device["access_token"])
    sdk.connect()
    try:
        eventually(sdk.is_connected, WAIT_SECONDS, "the SDK to connect")
        ts = now_ms() - 5_000
        assert sdk.send_telemetry({"ts": ts, "values": {"spindle_temp": 30.5, "mode": "cutting"}}).get() == 0
        assert sdk.send_attributes({"firmwareVersion": "1.2.0", "serial": "X1"}).get() == 0
        answered = threading.Event()
        answer: dict[str, Any] = {}

        def on_attributes(content: dict[str, Any], error: object) -> None:
            answer.update(content or {}, error=error)
            answered.set()

        sdk.request_attributes(["firmwareVersion"], ["recipe", "target_rpm"], callback=on_attributes)
        assert answered.wait(WAIT_SECONDS), "no attributes response"
    finally:
        sdk.disconnect()
    assert answer == {
        "client": {"firmwareVersion": "1.2.0"},
        "shared": {"recipe": "A7", "target_rpm": 12000.0},
        "error": None,
    }
    eventually(
        lambda: (ts, "string_value", "cutting") in stored(telemetry, device, "mode"),
        what="the SDK's reading",
    )


def test_devices_connect_over_tls(platform: Platform, client: PartnerClient, tmp_path: Path) -> None:
    cert_file, key_file = self_signed_pair(tmp_path)
    device = known_device(platform, client)
    with adapter(platform, tmp_path, tls_cert_file=cert_file, tls_key_file=key_file) as port:
        secured = PahoDevice(port, device["access_token"], 5, ca_file=cert_file)
        try:
            assert secured.reason == 0
            secured.publish(TELEMETRY, orjson.dumps({"spindle_temp": 25.0}))
        finally:
            secured.close()


def test_a_revoked_token_or_a_suspended_device_is_disconnected_within_seconds(
    platform: Platform, client: PartnerClient
) -> None:
    device = known_device(platform, client)
    raw = RawClient(platform.mqtt_port)
    assert raw.connect5(device["access_token"]).reason_code == 0
    path = f"/v1/devices/{device['id']}/credentials"
    (credential,) = client.http.get(path).json()["items"]
    started = time.monotonic()
    assert client.http.delete(f"{path}/{credential['id']}").status_code == 200
    disconnect = raw.packet5()
    assert disconnect.reason_code == mqtt5.DisconnectReasonCode.ADMINISTRATIVE_ACTION
    assert raw.closed_by_server() and time.monotonic() - started < REVOCATION_SECONDS
    refused = RawClient(platform.mqtt_port).connect5(device["access_token"])
    assert refused.reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD

    suspended = known_device(platform, client)
    raw = RawClient(platform.mqtt_port)
    assert raw.connect311(suspended["access_token"]) == b"\x20\x02\x00\x00"
    started = time.monotonic()
    moved_to(client, suspended["id"], "active", "suspended")
    assert raw.closed_by_server() and raw.buffer == b""
    assert time.monotonic() - started < REVOCATION_SECONDS
    assert RawClient(platform.mqtt_port).connect311(suspended["access_token"]) == b"\x20\x02\x00\x05"


def test_thingsboards_sdk_hears_its_shared_attributes_change(
    platform: Platform, client: PartnerClient
) -> None:
    from tb_device_mqtt import TBDeviceMqttClient

    device = client.register_device()
    set_attributes(client, device["id"], {"target_rpm": 12000, "recipe": "A7"})
    sdk = TBDeviceMqttClient("127.0.0.1", port=platform.mqtt_port, username=device["access_token"])
    heard: list[dict[str, Any]] = []
    changed = threading.Event()

    def on_update(content: dict[str, Any], _: object) -> None:
        heard.append(content)
        changed.set()

    sdk.connect()
    try:
        eventually(sdk.is_connected, WAIT_SECONDS, "the SDK to connect")
        sdk.subscribe_to_all_attributes(on_update)
        # The SDK subscribes as it connects; an attributes request answered means the
        # subscription before it was too.
        answered = threading.Event()
        sdk.request_attributes(shared_keys=["recipe"], callback=lambda *_: answered.set())
        assert answered.wait(WAIT_SECONDS)
        set_attributes(client, device["id"], {"target_rpm": 15000})
        assert changed.wait(WAIT_SECONDS), "no shared attributes update"
    finally:
        sdk.disconnect()
    assert heard == [{"target_rpm": 15000, "deleted": ["recipe"]}]


def set_attributes(client: PartnerClient, device_id: str, values: dict[str, Any]) -> None:
    version = client.http.get(f"/v1/devices/{device_id}").json()["version"]
    patched = client.http.patch(
        f"/v1/devices/{device_id}", json={"attributes": values}, headers={"If-Match": f'"{version}"'}
    )
    assert patched.status_code == 200, patched.text


def test_a_reading_telemetry_did_not_take_is_never_acknowledged(
    platform: Platform, client: PartnerClient, tmp_path: Path
) -> None:
    device = known_device(platform, client)
    nowhere = {"GANTRY_TELEMETRY_GRPC_TARGET": f"127.0.0.1:{free_port()}"}
    with adapter(platform, tmp_path, env=nowhere) as port:
        raw = RawClient(port)
        assert raw.connect5(device["access_token"]).reason_code == 0
        raw.send(
            mqtt5.PublishPacket(
                TELEMETRY, b'{"spindle_temp": 20.0}', qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1
            ).write()
        )
        # No PUBACK: the connection ends, so that the device sends the reading again elsewhere.
        disconnect = raw.packet5()
        assert disconnect.reason_code == mqtt5.DisconnectReasonCode.SERVER_BUSY
        assert raw.closed_by_server()


def test_a_stopping_adapter_answers_what_it_owes_then_says_so(
    platform: Platform, client: PartnerClient, tmp_path: Path
) -> None:
    device = known_device(platform, client)
    with adapter(platform, tmp_path) as port:
        raw = RawClient(port)
        assert raw.connect5(device["access_token"]).reason_code == 0
        raw.send(mqtt5.PingReqPacket().write())
        assert isinstance(raw.packet5(), mqtt5.PingRespPacket)
    # The adapter has had SIGTERM and exited.
    assert raw.packet5().reason_code == mqtt5.DisconnectReasonCode.SERVER_SHUTTING_DOWN
    assert raw.closed_by_server()
