"""Device lists and lifecycle changes through the partner API."""

from __future__ import annotations

import pytest

from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Lists Ltd")["api_key"])


def test_lists_filter_and_page_through_the_tenants_devices(platform: Platform, client: PartnerClient) -> None:
    for index in range(5):
        body = {**client.device_body(f"LST-{index}"), "site": "Ningbo" if index % 2 else "Suzhou"}
        body["labels"] = {"line": f"l{index % 2}"}
        assert client.http.post("/v1/devices", json=body).status_code == 201

    suzhou = client.http.get("/v1/devices", params={"site": "Suzhou", "include_total": "true"}).json()
    assert [d["serial_number"] for d in suzhou["items"]] == ["LST-0", "LST-2", "LST-4"]
    assert (suzhou["total"], suzhou["next_cursor"]) == (3, "")

    seen, cursor = [], ""
    while True:
        page = client.http.get("/v1/devices", params={"q": "lst-", "limit": 2, "cursor": cursor}).json()
        seen += [d["serial_number"] for d in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [f"LST-{i}" for i in range(5)]
    labelled = client.http.get(
        "/v1/devices", params={"label": "line=l1", "order_by": "-serial_number"}
    ).json()
    assert [d["serial_number"] for d in labelled["items"]] == ["LST-3", "LST-1"]

    stranger = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    stranger = stranger.as_tenant(stranger.create_tenant("Other Ltd")["api_key"])
    assert stranger.http.get("/v1/devices", params={"q": "lst-"}).json()["items"] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
        ({"label": "no-equals"}, "label"),
        ({"order_by": "secret"}, "order_by"),
        ({"state": "exploded"}, "state"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_422(client: PartnerClient, params: dict, field: str) -> None:
    response = client.http.get("/v1/devices", params=params)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert any(error["field"].startswith(field) for error in response.json()["errors"])


def test_state_changes_need_the_current_etag(client: PartnerClient) -> None:
    device = client.register_device()
    url = f"/v1/devices/{device['id']}/state"

    missing = client.http.post(url, json={"state": "active"})
    assert missing.status_code == 428
    activated = client.http.post(url, json={"state": "active"}, headers={"If-Match": '"1"'})
    assert activated.status_code == 200 and activated.json()["state"] == "active"
    assert activated.headers["etag"] == '"2"'
    stale = client.http.post(url, json={"state": "suspended"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["type"] == "urn:gantry:problem:version-mismatch"
    assert (
        client.http.post(url, json={"state": "decommissioned"}, headers={"If-Match": '"2"'}).status_code
        == 200
    )
    final = client.http.post(url, json={"state": "active"}, headers={"If-Match": '"3"'})
    assert final.status_code == 409 and final.json()["type"] == "urn:gantry:problem:conflict"
    assert (
        client.http.post(url, json={"state": "provisioned"}, headers={"If-Match": '"3"'}).status_code == 422
    )
    assert client.http.post(url, json={"state": "active"}, headers={"If-Match": "junk"}).status_code == 412
