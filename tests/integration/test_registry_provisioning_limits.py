"""ThingsBoard's HTTP provisioning endpoint takes no credential: the gateway limits it per
client address, as it limits a device per token."""

from __future__ import annotations

import os
from unittest import mock

from tests.support.gateway import gateway

BURST = 3
REQUEST = {
    "deviceName": "Mill-1",
    "provisionDeviceKey": "key-of-nobody",
    "provisionDeviceSecret": "guess-000000000",
}


def test_http_provisioning_beyond_the_addresss_burst_is_refused() -> None:
    limits = {"GANTRY_RATE_LIMIT_DEVICE_PER_SECOND": "0.001", "GANTRY_RATE_LIMIT_DEVICE_BURST": str(BURST)}
    with mock.patch.dict(os.environ, limits), gateway() as client:
        answers = [client.post("/api/v1/provision", json=REQUEST) for _ in range(BURST + 1)]
    # The registry is not there: within the limit, the gateway says so; beyond it, it never asks.
    assert [answer.status_code for answer in answers] == [503] * BURST + [429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("rate-limited") and "Retry-After" in refused.headers
