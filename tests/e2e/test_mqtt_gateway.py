"""ThingsBoard's gateway API end to end with its own SDK: an edge gateway device brings
machines it names, registered under the profile it names, which report through it, are
online while connected through it, and take calls through it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from gantry.v1 import registry_pb2, registry_pb2_grpc

from tests.support.client import PartnerClient
from tests.support.mqtt import WAIT_SECONDS, gateway_device
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Edge Works")["api_key"])


@pytest.fixture(scope="module")
def registry(platform: Platform) -> Iterator[registry_pb2_grpc.RegistryServiceStub]:
    with grpc.insecure_channel(platform.grpc_target("registry")) as channel:
        yield registry_pb2_grpc.RegistryServiceStub(channel)


def machine(client: PartnerClient, name: str) -> dict[str, Any] | None:
    found = client.http.get("/v1/devices", params={"q": name}).json()["items"]
    return found[0] if found else None


def test_a_gateway_brings_machines_that_report_and_take_calls_through_it(
    platform: Platform, client: PartnerClient, registry: registry_pb2_grpc.RegistryServiceStub
) -> None:
    from tb_gateway_mqtt import TBGatewayMqttClient

    gateway = gateway_device(client)
    name = f"Press-{gateway['id'][:8]}"
    sdk = TBGatewayMqttClient("127.0.0.1", port=platform.mqtt_port, username=gateway["access_token"])

    def on_call(gw: TBGatewayMqttClient, call: dict[str, Any]) -> None:
        data = call["data"]
        gw.gw_send_rpc_reply(call["device"], data["id"], {"stroke": data["params"]["stroke"], "done": True})

    sdk.gw_set_server_side_rpc_request_handler(on_call)
    sdk.connect()
    try:
        eventually(sdk.is_connected, WAIT_SECONDS, "the SDK to connect")
        sdk.gw_connect_device(name)
        found = eventually(lambda: machine(client, name), what="the machine registered")
        assert (found["display_name"], found["profile_id"]) == (name, client.profile_id())
        eventually(lambda: machine(client, name)["connectivity"] == "online", what="the machine online")

        sdk.gw_send_attributes(name, {"firmware": "4.2"}).get()
        attributes = registry.GetDeviceAttributes(
            registry_pb2.GetDeviceAttributesRequest(tenant_id=gateway["tenant_id"], device_id=found["id"]),
            timeout=5,
        )
        assert dict(attributes.client) == {"firmware": "4.2"}

        def stored() -> bool:
            # Telemetry learns of a new machine from the registry's event: until it has,
            # it refuses the machine's readings, so they are sent until one is taken.
            sdk.gw_send_telemetry(
                name, {"ts": int(time.time() * 1000), "values": {"spindle_temp": 31.5}}
            ).get()
            latest = client.http.get(f"/v1/devices/{found['id']}/telemetry/latest").json()
            return bool(latest.get("values"))

        eventually(stored, what="the machine's readings stored")

        answered = client.http.post(
            f"/v1/devices/{found['id']}/rpc", json={"method": "press", "params": {"stroke": 12}}, timeout=30
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["response"] == {"stroke": 12, "done": True}

        sdk.gw_disconnect_device(name)
        eventually(lambda: machine(client, name)["connectivity"] == "offline", what="the machine offline")
    finally:
        sdk.disconnect()


def test_a_device_naming_no_profile_brings_no_machine(platform: Platform, client: PartnerClient) -> None:
    from tb_gateway_mqtt import TBGatewayMqttClient

    plain = client.register_device()
    name = f"Ghost-{plain['id'][:8]}"
    sdk = TBGatewayMqttClient("127.0.0.1", port=platform.mqtt_port, username=plain["access_token"])
    sdk.connect()
    try:
        eventually(sdk.is_connected, WAIT_SECONDS, "the SDK to connect")
        sdk.gw_connect_device(name).get()
    finally:
        sdk.disconnect()
    assert machine(client, name) is None
