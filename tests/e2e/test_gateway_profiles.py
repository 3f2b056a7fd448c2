"""Device profiles through the partner API: listed, and versioned when their channels change."""

from __future__ import annotations

from tests.support.client import PROFILE, PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform


def test_new_channels_make_a_new_version_and_devices_stay_on_theirs(platform: Platform) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    client = operator.as_tenant(operator.create_tenant("Profiles Ltd")["api_key"])
    device = client.register_device()
    url = f"/v1/device-profiles/{device['profile_id']}"
    assert client.http.get(url).headers["etag"] == '"1"'

    channels = [*PROFILE["channels"], {"key": "vibration", "value_type": "float", "unit": "mm/s"}]
    assert client.http.patch(url, json={"channels": channels}).status_code == 428
    updated = client.http.patch(
        url, json={"channels": channels, "model": "VF-2SS"}, headers={"If-Match": '"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["version"], updated.json()["model"], updated.headers["etag"]) == (
        2,
        "VF-2SS",
        '"2"',
    )
    assert client.http.patch(url, json={"name": "x"}, headers={"If-Match": '"1"'}).status_code == 412
    invalid = client.http.patch(
        url, json={"channels": [{"key": "mode", "value_type": "enum"}]}, headers={"If-Match": '"2"'}
    )
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"].startswith("channels.0")

    assert client.http.get(f"/v1/devices/{device['id']}").json()["profile_version"] == 1
    listed = client.http.get("/v1/device-profiles").json()
    assert [(p["id"], p["version"]) for p in listed["items"]] == [(device["profile_id"], 2)]
