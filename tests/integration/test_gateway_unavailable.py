"""When a backend cannot be reached, the gateway's answer says what the caller can do,
never where the backend runs or how its connection failed."""

from __future__ import annotations

import httpx
import pytest

from tests.support.gateway import closed_target, gateway

TENANT = {"name": "Acme Precision", "country": "CN", "size_class": "small"}
DEPOSIT = {
    "credit_tenant_id": "00000000-0000-0000-0000-000000000001",
    "currency": "CNY",
    "amount": 1,
    "reason": "x",
}
# grpc's words for transport failures, which belong in the gateway's log only.
TRANSPORT_WORDS = (
    "ipv4",
    "ipv6",
    "127.0.0.1",
    "failed to connect",
    "Connection refused",
    "Broken pipe",
    "sendmsg",
    "Socket closed",
    "Cancelling all calls",
)


def assert_unavailable(response: httpx.Response, target: str) -> str:
    """Checks a 503 that names no address, port or transport error; returns its detail."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()
    problem = response.json()
    assert problem["type"] == "urn:gantry:problem:backend-unavailable"
    # The request id is random hex, in which a port's digits could appear by chance.
    shown = str({key: value for key, value in problem.items() if key != "request_id"})
    for word in (*TRANSPORT_WORDS, target.rpartition(":")[2]):
        assert word not in shown, shown
    return problem["detail"]


@pytest.mark.parametrize(
    "method, path, body, service",
    [
        ("POST", "/v1/tenants", TENANT, "registry"),
        ("GET", "/v1/tenants", None, "registry"),
        ("POST", "/v1/accounts/deposits", DEPOSIT, "marketplace"),
    ],
)
def test_an_unreachable_backend_is_a_503_saying_what_to_do(
    method: str, path: str, body: dict | None, service: str
) -> None:
    target = closed_target()
    with gateway(**{service: target}) as http:
        response = http.request(method, path, json=body, headers={"Idempotency-Key": "k-1"})
    detail = assert_unavailable(response, target)
    assert f"the {service} service" in detail and "retry" in detail and "request id" in detail
