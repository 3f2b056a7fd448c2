"""Device updates through the partner API: partial, guarded by If-Match, validated."""

from __future__ import annotations

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform


def test_a_patch_changes_only_what_it_names_and_needs_the_current_etag(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    client = operator.as_tenant(operator.create_tenant("Patch Ltd")["api_key"])
    device = client.register_device()
    url = f"/v1/devices/{device['id']}"

    assert client.http.patch(url, json={"site": "Wuxi"}).status_code == 428
    patched = client.http.patch(
        url,
        json={"site": "Wuxi", "labels": {"cell": "b"}, "attributes": {"axes": 5}},
        headers={"If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["site"], body["labels"], body["attributes"], body["display_name"]) == (
        "Wuxi",
        {"cell": "b"},
        {"axes": 5},
        "Mill",
    )
    assert patched.headers["etag"] == '"2"'

    stale = client.http.patch(url, json={"display_name": "Lathe"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    for body, field in [
        ({}, "_schema"),
        ({"display_name": "x\x00"}, "display_name"),
        ({"state": "active"}, "state"),
        ({"profile_version": 9}, "profile_version"),
        ({"labels": {"Bad Key": "v"}}, "labels"),
    ]:
        response = client.http.patch(url, json=body, headers={"If-Match": '"2"'})
        assert response.status_code == 422, response.text
        assert any(error["field"].startswith(field) for error in response.json()["errors"]), response.json()
    assert client.http.get(url).json()["version"] == 2


def test_if_match_any_changes_the_current_version(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    tenant = operator.create_tenant("Wildcard Ltd")
    client = operator.as_tenant(tenant["api_key"])
    device = client.register_device()
    profile = client.create_profile()
    any_version = {"If-Match": "*"}
    changes = [
        (client, "PATCH", f"/v1/devices/{device['id']}", {"site": "Wuxi"}, '"2"'),
        (client, "POST", f"/v1/devices/{device['id']}/state", {"state": "active"}, '"3"'),
        (client, "PATCH", f"/v1/device-profiles/{profile['id']}", {"name": "Mill 2"}, '"1"'),
        (operator, "PATCH", f"/v1/tenants/{tenant['id']}", {"name": "Wildcard Plc"}, '"2"'),
    ]
    for caller, method, url, body, etag in changes:
        response = caller.http.request(method, url, json=body, headers=any_version)
        assert response.status_code == 200, (url, response.text)
        assert response.headers["etag"] == etag
