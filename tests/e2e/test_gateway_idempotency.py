"""Idempotency-Key on POSTs that create, with Stripe's semantics, across the platform."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Retry Ltd")["api_key"])


def test_a_retried_creation_answers_the_first_response_again(client: PartnerClient) -> None:
    body = client.device_body("IDEM-1")
    first = client.http.post("/v1/devices", json=body, headers={"Idempotency-Key": "order-7"})
    again = client.http.post("/v1/devices", json=body, headers={"Idempotency-Key": "order-7"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert [
        d["serial_number"] for d in client.http.get("/v1/devices", params={"q": "IDEM-"}).json()["items"]
    ] == ["IDEM-1"]
    other_body = client.http.post(
        "/v1/devices", json=client.device_body("IDEM-2"), headers={"Idempotency-Key": "order-7"}
    )
    assert other_body.status_code == 422
    assert other_body.json()["type"] == "urn:gantry:problem:idempotency-key-reused"


def test_a_failed_creation_is_answered_again_too(client: PartnerClient) -> None:
    client.register_device("IDEM-TAKEN")
    body = client.device_body("IDEM-TAKEN")
    answers = [
        client.http.post("/v1/devices", json=body, headers={"Idempotency-Key": "dup"}) for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [409, 409]
    assert answers[1].headers["Idempotent-Replayed"] == "true"


def test_keys_belong_to_their_api_key_and_must_be_well_formed(
    platform: Platform, client: PartnerClient
) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    other = operator.as_tenant(operator.create_tenant("Other Retry Ltd")["api_key"])
    mine = client.http.post("/v1/device-profiles", json=_profile(), headers={"Idempotency-Key": "shared"})
    theirs = other.http.post("/v1/device-profiles", json=_profile(), headers={"Idempotency-Key": "shared"})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"] and "Idempotent-Replayed" not in theirs.headers
    bad = client.http.post("/v1/device-profiles", json=_profile(), headers={"Idempotency-Key": "a b"})
    assert bad.status_code == 400 and bad.json()["type"] == "urn:gantry:problem:bad-idempotency-key"


def test_concurrent_retries_create_exactly_once(platform: Platform, client: PartnerClient) -> None:
    body = client.device_body("IDEM-RACE")

    async def race() -> list[int]:
        headers = {**client.http.headers, "Idempotency-Key": "race-1"}
        async with httpx.AsyncClient(base_url=platform.gateway_url, headers=headers, timeout=10) as http:
            answers = await asyncio.gather(*(http.post("/v1/devices", json=body) for _ in range(8)))
        return [a.status_code for a in answers]

    statuses = asyncio.run(race())
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1
    found = client.http.get("/v1/devices", params={"q": "IDEM-RACE"}).json()["items"]
    assert len(found) == 1


def _profile() -> dict:
    return {"name": "Idempotent", "channels": [{"key": "t", "value_type": "float"}]}
