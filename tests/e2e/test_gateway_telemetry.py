"""Readings sent through the partner API and ThingsBoard's device API, end to end."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Readings Works")["api_key"])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def batch(device_id: str, *samples: dict) -> dict:
    return {"devices": [{"device_id": device_id, "samples": list(samples)}]}


def accepted_once_known(client: PartnerClient, body: dict) -> dict:
    """Sends readings of a new device until telemetry has learned of the device."""

    def send() -> dict | None:
        response = client.http.post("/v1/telemetry", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        unknown = [r for r in result["rejections"] if r["reason"] == "unknown_device"]
        return None if unknown else result

    return eventually(send, what="telemetry to learn of the device")


def test_partners_send_readings_of_many_devices_with_per_reading_verdicts(
    platform: Platform, client: PartnerClient
) -> None:
    device = client.register_device()
    seconds = time.time() - 5
    rfc3339 = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    result = accepted_once_known(
        client,
        batch(
            device["id"],
            {"ts": now_ms() - 10_000, "values": {"spindle_temp": 40.5, "mode": "cutting"}},
            {"ts": seconds, "values": {"spindle_temp": 400}},
            {"ts": rfc3339, "values": {"spindle_temp": "hot", "mode": "idle"}},
        ),
    )
    assert (result["accepted"], result["rejected"]) == (4, 1)
    assert result["rejections"] == [
        {
            "device_index": 0,
            "sample_index": 2,
            "channel": "spindle_temp",
            "reason": "wrong_type",
            "detail": "expected float, got a string",
        }
    ]
    assert [(f["sample_index"], f["channel"]) for f in result["out_of_range"]] == [(1, "spindle_temp")]


def test_a_device_sends_thingsboard_telemetry_with_its_access_token(
    platform: Platform, client: PartnerClient
) -> None:
    device = client.register_device()
    url = f"{platform.gateway_url}/api/v1/{device['access_token']}/telemetry"

    def post(body: object) -> httpx.Response:
        return httpx.post(url, json=body, timeout=10)

    eventually(lambda: post({"spindle_temp": 21.5}).status_code == 200, what="the device to be accepted")
    response = post([{"ts": now_ms(), "values": {"spindle_temp": 22.0, "mode": "idle"}}, {"mode": "alarm"}])
    assert (response.status_code, response.content) == (200, b"")
    refused = post({"spindle_temp": "hot"})
    assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["errors"] == [
        {"field": "spindle_temp", "message": "wrong_type: expected float, got a string"}
    ]
    malformed = httpx.post(
        url, content=b"{not json", headers={"content-type": "application/json"}, timeout=10
    )
    assert malformed.status_code == 400
    unknown = httpx.post(f"{platform.gateway_url}/api/v1/gdt_nope_nope/telemetry", json={"t": 1}, timeout=10)
    assert unknown.status_code == 401


def test_telemetry_routes_refuse_what_they_must(platform: Platform, client: PartnerClient) -> None:
    device = client.register_device()
    keys = client.http.post("/v1/api-keys", json={"name": "reader", "scopes": ["devices:read"]})
    reader = client.as_tenant(keys.json()["secret"])
    assert reader.http.post("/v1/telemetry", json=batch(device["id"])).status_code == 403
    stranger = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    stranger = stranger.as_tenant(stranger.create_tenant("Nosy Ltd")["api_key"])
    probe = stranger.http.post(
        "/v1/telemetry", json=batch(device["id"], {"ts": now_ms(), "values": {"mode": "idle"}})
    )
    assert [r["reason"] for r in probe.json()["rejections"]] == ["unknown_device"]
    huge = b'{"devices": [' + b" " * (8 * 1024 * 1024) + b"]}"
    too_large = client.http.post("/v1/telemetry", content=huge, headers={"content-type": "application/json"})
    assert too_large.status_code == 413
    as_text = client.http.post("/v1/telemetry", content=b"{}", headers={"content-type": "text/plain"})
    assert as_text.status_code == 415
    malformed = client.http.post("/v1/telemetry", json={"devices": [{"device_id": str(uuid.uuid4())}]})
    assert malformed.status_code == 422
    assert malformed.json()["errors"] == [{"field": "devices[0].samples", "message": "must be a list"}]


def test_stored_readings_are_queried_downsampled_and_exported(
    platform: Platform, client: PartnerClient
) -> None:
    device = client.register_device()
    base = (now_ms() // 60_000 - 10) * 60_000
    samples = [
        {"ts": base + 15_000 * i, "values": {"spindle_temp": 20.0 + i, "mode": "cutting"}} for i in range(8)
    ]
    assert accepted_once_known(client, batch(device["id"], *samples))["accepted"] == 16
    path = f"/v1/devices/{device['id']}/telemetry"

    def latest() -> dict | None:
        values = client.http.get(f"{path}/latest").json()["values"]
        return {v["channel"]: v["value"] for v in values} if len(values) == 2 else None

    assert eventually(latest, what="the readings to be stored") == {"spindle_temp": 27.0, "mode": "cutting"}

    def activated() -> dict | None:
        found = client.http.get(f"/v1/devices/{device['id']}").json()
        return found if found["state"] == "active" else None

    # Registered as provisioned, the device became active with its first stored readings.
    assert eventually(activated, what="the device to become active")["last_seen_at"]
    start = datetime.fromtimestamp(base / 1000, UTC).isoformat()
    end = datetime.fromtimestamp((base + 120_000) / 1000, UTC).isoformat()
    first = client.http.get(path, params={"start": start, "end": end, "channel": "spindle_temp", "limit": 5})
    assert first.status_code == 200, first.text
    rest = client.http.get(
        path,
        params={"start": start, "end": end, "channel": "spindle_temp", "cursor": first.json()["next_cursor"]},
    ).json()
    values = [r["value"] for r in first.json()["items"] + rest["items"]]
    assert values == [20.0 + i for i in range(8)] and rest["next_cursor"] == ""

    series = client.http.get(
        f"{path}/series",
        params={
            "start": start,
            "end": end,
            "channel": "spindle_temp",
            "bucket": 60,
            "aggregate": ["avg", "max"],
        },
    )
    assert series.status_code == 200, series.text
    assert [(b["avg"], b["max"]) for b in series.json()["buckets"]] == [(21.5, 23.0), (25.5, 27.0)]

    export = client.http.get(f"{path}/export", params={"start": start, "end": end, "channel": "mode"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = export.text.splitlines()
    assert lines[0] == "ts,channel,value" and len(lines) == 9 and lines[1].endswith(",mode,cutting")

    bad = client.http.get(
        f"{path}/series", params={"start": end, "end": start, "channel": "spindle_temp", "bucket": 60}
    )
    assert bad.status_code == 422
    stranger = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    stranger = stranger.as_tenant(stranger.create_tenant("Peeking Ltd")["api_key"])
    assert stranger.http.get(path, params={"start": start, "end": end}).status_code == 404
    assert stranger.http.get(f"{path}/export", params={"start": start, "end": end}).status_code == 404


def test_a_device_reports_and_reads_attributes_as_on_thingsboard(
    platform: Platform, client: PartnerClient
) -> None:
    device = client.register_device()
    patched = client.http.patch(
        f"/v1/devices/{device['id']}",
        json={"attributes": {"target_rpm": 12000, "recipe": "A7"}},
        headers={"If-Match": f'"{device["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    url = f"{platform.gateway_url}/api/v1/{device['access_token']}/attributes"
    assert httpx.post(url, json={"firmwareVersion": "1.2.0", "serial": "X1"}, timeout=10).status_code == 200
    assert httpx.post(url, json={"serial": None, "uptime_h": 41}, timeout=10).status_code == 200
    everything = httpx.get(url, timeout=10).json()
    assert everything == {
        "client": {"firmwareVersion": "1.2.0", "uptime_h": 41.0},
        "shared": {"target_rpm": 12000.0, "recipe": "A7"},
    }
    some = httpx.get(url, params={"clientKeys": "uptime_h", "sharedKeys": "recipe"}, timeout=10).json()
    assert some == {"client": {"uptime_h": 41.0}, "shared": {"recipe": "A7"}}
    assert (
        httpx.post(
            url, content=b"[1, 2]", headers={"content-type": "application/json"}, timeout=10
        ).status_code
        == 400
    )
    assert httpx.post(url, json={"x" * 200: 1}, timeout=10).status_code == 400
    assert (
        httpx.get(f"{platform.gateway_url}/api/v1/gdt_unknown_token/attributes", timeout=10).status_code
        == 401
    )


def test_an_admin_chooses_how_long_the_tenants_readings_are_kept(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    admin = operator.as_tenant(operator.create_tenant("Retention Works")["api_key"])
    other = operator.as_tenant(operator.create_tenant("Other Works")["api_key"])
    assert admin.http.get("/v1/telemetry/retention").json() == {"days": 365}
    assert admin.http.put("/v1/telemetry/retention", json={"days": 90}).json() == {"days": 90}
    assert admin.http.get("/v1/telemetry/retention").json() == {"days": 90}
    assert other.http.get("/v1/telemetry/retention").json() == {"days": 365}
    for bad in ({"days": 91}, {"days": "90"}, {"days": None}, {}, {"days": 90, "tenant_id": "x"}):
        refused = admin.http.put("/v1/telemetry/retention", json=bad)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
    reader_key = admin.http.post("/v1/api-keys", json={"name": "reader", "scopes": ["telemetry:read"]}).json()
    reader = operator.as_tenant(reader_key["secret"])
    assert reader.http.get("/v1/telemetry/retention").json() == {"days": 90}
    assert reader.http.put("/v1/telemetry/retention", json={"days": 30}).status_code == 403
    assert operator.http.get("/v1/telemetry/retention").status_code in (403, 422)
