"""A device connected over MQTT is online in the registry while connected, offline once it
goes away, whether it sends readings or not."""

from __future__ import annotations

import pytest

from tests.support.client import PartnerClient
from tests.support.mqtt import PahoDevice
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Linked Works")["api_key"])


def connectivity(client: PartnerClient, device_id: str) -> str:
    return client.http.get(f"/v1/devices/{device_id}").json()["connectivity"]


@pytest.mark.parametrize("version", [4, 5])
def test_a_connected_device_is_online_then_offline_once_gone(
    platform: Platform, client: PartnerClient, version: int
) -> None:
    device = client.register_device()
    assert connectivity(client, device["id"]) == "never_seen"
    connected = PahoDevice(platform.mqtt_port, device["access_token"], version)
    try:
        eventually(lambda: connectivity(client, device["id"]) == "online", what="the device online")
        listed = client.http.get("/v1/devices", params={"q": device["serial_number"]}).json()
        assert [d["connectivity"] for d in listed["items"]] == ["online"]
    finally:
        connected.close()
    # Seen as it left: offline once its profile's window (three 1 s intervals) has passed.
    eventually(lambda: connectivity(client, device["id"]) == "offline", what="the device offline")
    assert client.http.get(f"/v1/devices/{device['id']}").json()["last_seen_at"]
