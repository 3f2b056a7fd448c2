"""The operator's tenant routes, and keys that expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def operator(platform: Platform) -> PartnerClient:
    return PartnerClient(platform.gateway_url, OPERATOR_TOKEN)


def test_the_operator_lists_tenants_by_country_a_page_at_a_time(operator: PartnerClient) -> None:
    created = {operator.create_tenant(f"Export Works {i}", country="DE")["id"] for i in range(3)}
    seen, cursor = set(), ""
    while True:
        page = operator.http.get("/v1/tenants", params={"country": "DE", "limit": 2, "cursor": cursor})
        assert page.status_code == 200, page.text
        seen |= {t["id"] for t in page.json()["items"]}
        assert all(t["country"] == "DE" for t in page.json()["items"])
        if not (cursor := page.json()["next_cursor"]):
            break
    assert created <= seen
    tenant_key = operator.create_tenant("Curious Ltd")["api_key"]
    assert operator.as_tenant(tenant_key).http.get("/v1/tenants").status_code == 403
    assert operator.http.get("/v1/tenants", params={"country": "Germany"}).status_code == 422


def test_a_suspended_tenant_is_locked_out_and_versions_guard_changes(operator: PartnerClient) -> None:
    created = operator.create_tenant("Late Payer Ltd")
    tenant = operator.as_tenant(created["api_key"])
    assert tenant.http.get("/v1/devices").status_code == 200
    path = f"/v1/tenants/{created['id']}"
    etag = operator.http.get(path).headers["ETag"]
    suspended = operator.http.patch(path, json={"status": "suspended"}, headers={"If-Match": etag})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended" and suspended.headers["ETag"] != etag
    stale = operator.http.patch(path, json={"name": "Renamed"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert operator.http.patch(path, json={"name": "Renamed"}).status_code == 428
    assert operator.http.patch(path, json={}, headers={"If-Match": etag}).status_code == 422
    eventually(
        lambda: tenant.http.get("/v1/devices").status_code == 401, 15, "the suspended tenant's key to stop"
    )


def test_an_expired_key_stops_working(operator: PartnerClient) -> None:
    admin = operator.as_tenant(operator.create_tenant("Temporary Access Ltd")["api_key"])
    expires = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    key = admin.http.post(
        "/v1/api-keys", json={"name": "contractor", "scopes": ["devices:read"], "expires_at": expires}
    )
    assert key.status_code == 201, key.text
    contractor = admin.as_tenant(key.json()["secret"])
    assert contractor.http.get("/v1/devices").status_code == 200
    eventually(
        lambda: contractor.http.get("/v1/devices").status_code == 401, 15, "the expired key to be refused"
    )
