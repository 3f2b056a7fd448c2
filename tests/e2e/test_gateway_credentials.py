"""Bulk registration and device access tokens through the partner API."""

from __future__ import annotations

import httpx
import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Fleet Ltd")["api_key"])


def test_bulk_registration_is_all_or_nothing(client: PartnerClient) -> None:
    bodies = [client.device_body(f"BULK-{i}") for i in range(3)]
    created = client.http.post("/v1/devices/bulk", json={"devices": bodies})
    assert created.status_code == 201, created.text
    items = created.json()["items"]
    assert [d["serial_number"] for d in items] == ["BULK-0", "BULK-1", "BULK-2"]
    assert all(d["access_token"].startswith("gdt_") for d in items)

    clash = [client.device_body("BULK-9"), client.device_body("BULK-1")]
    refused = client.http.post("/v1/devices/bulk", json={"devices": clash})
    assert refused.status_code == 409, refused.text
    invalid = client.http.post(
        "/v1/devices/bulk", json={"devices": [client.device_body("BULK-8"), {"display_name": 1}]}
    )
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} >= {
        "devices.1.serial_number",
        "devices.1.profile_id",
    }
    listed = client.http.get("/v1/devices", params={"q": "BULK-"}).json()["items"]
    assert [d["serial_number"] for d in listed] == ["BULK-0", "BULK-1", "BULK-2"]
    assert client.http.post("/v1/devices/bulk", json={"devices": []}).status_code == 422


def test_a_device_rotates_its_access_token_without_downtime(
    platform: Platform, client: PartnerClient
) -> None:
    device = client.register_device()
    path = f"/v1/devices/{device['id']}/credentials"
    second = client.http.post(path, json={})
    assert second.status_code == 201, second.text
    new_token = second.json()["access_token"]
    listed = client.http.get(path).json()["items"]
    assert len(listed) == 2 and all("access_token" not in c for c in listed)

    def telemetry_status(token: str) -> int:
        url = f"{platform.gateway_url}/api/v1/{token}/telemetry"
        return httpx.post(url, json={"mode": "idle"}, timeout=10).status_code

    eventually(lambda: telemetry_status(new_token) == 200, what="the new token to be accepted")
    assert telemetry_status(device["access_token"]) == 200
    first_id = next(c["id"] for c in listed if c["id"] != second.json()["id"])
    revoked = client.http.delete(f"{path}/{first_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    eventually(lambda: telemetry_status(device["access_token"]) == 401, 15, "the revoked token to be refused")
    assert telemetry_status(new_token) == 200


def test_credentials_of_another_tenants_device_are_not_found(
    platform: Platform, client: PartnerClient
) -> None:
    device = client.register_device()
    stranger = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    stranger = stranger.as_tenant(stranger.create_tenant("Prying Ltd")["api_key"])
    path = f"/v1/devices/{device['id']}/credentials"
    assert stranger.http.post(path, json={}).status_code == 404
    assert stranger.http.get(path).status_code == 404
    credential = client.http.get(path).json()["items"][0]["id"]
    assert stranger.http.delete(f"{path}/{credential}").status_code == 404
    window = {"valid_from": "2030-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z"}
    assert client.http.post(path, json=window).status_code == 422
