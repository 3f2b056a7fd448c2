"""Readings in columns through the partner API, end to end: verdicts indexed into `ts`,
stored and queryable, and hostile bodies answered precisely."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Columns Works")["api_key"])


def columns(device_id: str, ts: list[object], **values: list[object]) -> dict:
    return {"devices": [{"device_id": device_id, "ts": ts, "values": values}]}


def known_device(client: PartnerClient) -> str:
    """A new device, once telemetry has learned of it."""
    device = client.register_device()["id"]

    def known() -> bool:
        probe = client.http.post("/v1/telemetry", json=columns(device, [time.time() - 60], mode=["idle"]))
        assert probe.status_code == 200, probe.text
        return probe.json()["accepted"] == 1

    eventually(known, what="telemetry to learn of the device")
    return device


def test_partners_send_columns_with_verdicts_indexed_into_ts_and_read_them_back(
    client: PartnerClient,
) -> None:
    device = known_device(client)
    base = (time.time_ns() // 1_000_000 // 1000 - 30) * 1000
    ts = [base, base + 1000, base + 2000, base + 3000]
    body = columns(
        device,
        ts,
        spindle_temp=[40.5, "hot", None, 400.0],
        mode=["cutting", None, ["idle"], "idle"],
        spindle_rpm=[1, 2],
    )
    response = client.http.post("/v1/telemetry", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [(r["sample_index"], r["channel"], r["reason"]) for r in result["rejections"]] == [
        (-1, "spindle_rpm", "length_mismatch"),
        (1, "spindle_temp", "wrong_type"),
        (2, "mode", "wrong_type"),
    ]
    assert (result["accepted"], result["rejected"]) == (4, 4)
    assert [(f["sample_index"], f["channel"]) for f in result["out_of_range"]] == [(3, "spindle_temp")]

    def latest() -> dict | None:
        values = client.http.get(f"/v1/devices/{device}/telemetry/latest").json()["values"]
        found = {v["channel"]: v["value"] for v in values}
        return found if found.get("spindle_temp") == 400.0 else None

    assert eventually(latest, what="the readings to be stored") == {"spindle_temp": 400.0, "mode": "idle"}


def test_hostile_columns_are_answered_precisely(platform: Platform, client: PartnerClient) -> None:
    device = known_device(client)
    now = time.time()

    def problem(body: object) -> tuple[int, list[dict]]:
        response = client.http.post("/v1/telemetry", content=orjson.dumps(body), headers=JSON)
        assert response.headers["content-type"] == "application/problem+json", response.text
        return response.status_code, response.json().get("errors", [])

    assert problem(columns(device, [now], spindle_temp=1.5)) == (
        422,
        [
            {
                "field": "devices[0].values.spindle_temp",
                "message": "must be an array of values, null where the channel has none",
            }
        ],
    )
    assert problem(columns(device, [now, -5], mode=["idle", "idle"])) == (
        422,
        [{"field": "devices[0].ts[1]", "message": "out of range"}],
    )
    assert problem({"devices": [{"device_id": device, "ts": {}, "values": {}}]})[1][0]["field"] == (
        "devices[0].ts"
    )
    assert problem({"devices": [{"device_id": device, "ts": [], "values": []}]})[1][0]["field"] == (
        "devices[0].values"
    )

    stranger = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    stranger = stranger.as_tenant(stranger.create_tenant("Columns Peeking Ltd")["api_key"])
    probe = stranger.http.post("/v1/telemetry", json=columns(device, [now], mode=["idle"])).json()
    assert [(r["sample_index"], r["reason"], r["detail"]) for r in probe["rejections"]] == [
        (-1, "unknown_device", "no such device")
    ]

    # JSON objects keep the last of a repeated name, as every JSON reader does.
    repeated = f'{{"devices": [{{"device_id": "{device}", "ts": [{now}], '
    repeated += '"values": {"mode": ["dancing"], "mode": ["idle"]}}]}'
    answer = client.http.post("/v1/telemetry", content=repeated.encode(), headers=JSON).json()
    assert (answer["accepted"], answer["rejected"]) == (1, 0)

    stamps = [now - 60 + i / 1000 for i in range(20_001)]
    many = columns(device, stamps, **{f"ch{i}": [0] * len(stamps) for i in range(10)})
    response = client.http.post("/v1/telemetry", content=orjson.dumps(many), headers=JSON)
    assert response.status_code == 413
    assert response.json()["type"] == "urn:gantry:problem:too-many-readings"
    assert response.json()["detail"] == "200010 readings; at most 200000 in one request"
    unknown = columns(str(uuid.uuid4()), [now], mode=["idle"])
    assert (
        client.http.post("/v1/telemetry", json=unknown).json()["rejections"][0]["reason"] == "unknown_device"
    )
