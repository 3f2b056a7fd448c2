"""Rate limits per API key and per device token, on gateways started with small limits
beside the shared platform's (which does not limit) and sharing its Redis."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, ROOT, Platform, free_port, procfile
from tests.support.waiting import eventually

LIMITS = {
    "GANTRY_RATE_LIMIT_KEY_PER_SECOND": "0.01",
    "GANTRY_RATE_LIMIT_KEY_BURST": "3",
    "GANTRY_RATE_LIMIT_DEVICE_PER_SECOND": "0.01",
    "GANTRY_RATE_LIMIT_DEVICE_BURST": "2",
}


@pytest.fixture(scope="module")
def limited(platform: Platform) -> Iterator[list[str]]:
    """The base URLs of two limiting gateway replicas."""
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            shlex.split(procfile()["gateway"]),
            cwd=ROOT,
            env={**platform.env, **LIMITS, "GANTRY_GATEWAY_PORT": str(port), "GANTRY_METRICS_PORT": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            eventually(lambda u=url: _answers(f"{u}/healthz"), 30, f"gateway at {url}")
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_an_api_key_spends_one_bucket_across_replicas(platform: Platform, limited: list[str]) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    key = operator.create_tenant("Busy Ltd")["api_key"]
    other_key = operator.create_tenant("Calm Ltd")["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    answers = [httpx.get(f"{limited[i % 2]}/v1/devices", headers=headers, timeout=10) for i in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:gantry:problem:rate-limited"
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["RateLimit-Limit"] == "3"
    other = httpx.get(
        f"{limited[0]}/v1/devices", headers={"Authorization": f"Bearer {other_key}"}, timeout=10
    )
    assert other.status_code == 200


def test_a_device_token_has_a_bucket_of_its_own(platform: Platform, limited: list[str]) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    client = operator.as_tenant(operator.create_tenant("Chatty Devices Ltd")["api_key"])
    token = client.register_device()["access_token"]
    unlimited = f"{platform.gateway_url}/api/v1/{token}/telemetry"
    eventually(lambda: httpx.post(unlimited, json={"mode": "idle"}, timeout=10).status_code == 200)
    statuses = [
        httpx.post(
            f"{limited[i % 2]}/api/v1/{token}/telemetry", json={"mode": "idle"}, timeout=10
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]
