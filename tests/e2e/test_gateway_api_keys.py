"""API keys through the partner API: scoped, listed, and revoked everywhere within seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually


def test_a_read_only_key_reads_cannot_write_and_stops_working_once_revoked(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    admin = operator.as_tenant(operator.create_tenant("Keys Ltd")["api_key"])
    created = admin.http.post("/v1/api-keys", json={"name": "dashboard", "scopes": ["devices:read"]})
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["secret"].startswith("gnt_") and key["revoked_at"] is None and key["expires_at"] is None

    reader = admin.as_tenant(key["secret"])
    assert reader.http.get("/v1/devices").status_code == 200
    refused = reader.http.post("/v1/devices", json=admin.device_body())
    assert refused.status_code == 403 and refused.json()["type"] == "urn:gantry:problem:insufficient-scope"
    assert reader.http.get("/v1/api-keys").status_code == 403

    listed = admin.http.get("/v1/api-keys", params={"limit": 1}).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1 and listed["next_cursor"]
    assert "secret" not in listed["items"][0]

    revoked = admin.http.delete(f"/v1/api-keys/{key['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    eventually(
        lambda: reader.http.get("/v1/devices").status_code == 401,
        timeout=15,
        what="the revoked key to stop working",
    )


def test_keys_of_another_tenant_and_bad_keys_are_refused(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    first = operator.as_tenant(operator.create_tenant("First Ltd")["api_key"])
    second = operator.as_tenant(operator.create_tenant("Second Ltd")["api_key"])
    key = first.http.post("/v1/api-keys", json={"name": "ci", "scopes": ["telemetry:write"]}).json()

    assert second.http.delete(f"/v1/api-keys/{key['id']}").status_code == 404
    for body, field in [
        ({"name": "x", "scopes": ["root"]}, "scopes.0"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x\x00", "scopes": ["admin"]}, "name"),
        ({"name": "x", "scopes": ["admin"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "scopes": ["admin"], "expires_at": "tomorrow"}, "expires_at"),
    ]:
        response = first.http.post("/v1/api-keys", json=body)
        assert response.status_code == 422, response.text
        assert field in [error["field"] for error in response.json()["errors"]]
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (
        first.http.post(
            "/v1/api-keys", json={"name": "x", "scopes": ["admin"], "expires_at": soon}
        ).status_code
        == 201
    )
