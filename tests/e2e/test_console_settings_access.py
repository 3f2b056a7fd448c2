"""The settings and operator pages over HTTP on the whole platform, with real sessions:
another tenant's API keys and webhooks are a 404, a viewer reads what their scopes allow
and changes nothing, a tenant's admin is no operator, every new form needs the session's
token, and stored input renders escaped."""

from __future__ import annotations

import re
import uuid

import grpc
import pytest

from tests.support.plant import PlantTenant, SignedIn, console_client, console_url, operator, plant_tenant
from tests.support.platform import Platform

XSS = '<script>alert("x")</script>'
MISSING = str(uuid.uuid4())


@pytest.fixture(scope="module")
def plant(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Keyed Works")


@pytest.fixture(scope="module")
def other(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Prying Works")


@pytest.fixture(scope="module")
def owned(plant: PlantTenant) -> tuple[str, str]:
    """An API key and a webhook of `plant`, made through the API."""
    key = plant.partner.http.post("/v1/api-keys", json={"name": XSS, "scopes": ["devices:read"]})
    assert key.status_code == 201, key.text
    webhook = plant.partner.http.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/gantry", "event_types": ["alarm.raised"]}
    )
    assert webhook.status_code == 201, webhook.text
    return key.json()["id"], webhook.json()["id"]


def _form(member: SignedIn, **fields: str) -> dict[str, str]:
    return {"csrf_token": member.csrf_token, **fields}


def test_another_tenants_keys_and_webhooks_are_not_found(
    platform: Platform, plant: PlantTenant, other: PlantTenant, owned: tuple[str, str]
) -> None:
    key_id, webhook_id = owned
    with console_client(console_url(platform), other.admin) as intruder:
        assert key_id not in intruder.get("/settings/api-keys").text
        assert (
            intruder.post(f"/settings/api-keys/{key_id}/revoke", data=_form(other.admin)).status_code == 404
        )
        assert webhook_id not in intruder.get("/settings/webhooks").text
        assert intruder.get(f"/settings/webhooks/{webhook_id}").status_code == 404
        for action in ("test", "disable", "enable", "delete"):
            answer = intruder.post(f"/settings/webhooks/{webhook_id}/{action}", data=_form(other.admin))
            assert answer.status_code == 404, action
        assert intruder.get("/settings/webhooks/not-a-uuid").status_code == 404
        assert intruder.get(f"/settings/webhooks/{MISSING}").status_code == 404
    keys = plant.partner.http.get("/v1/api-keys").json()["items"]
    assert next(key for key in keys if key["id"] == key_id)["revoked_at"] is None
    webhook = plant.partner.http.get(f"/v1/webhooks/{webhook_id}").json()
    assert webhook["enabled"] is True
    assert plant.partner.http.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["items"] == []


def test_a_viewer_reads_webhooks_but_changes_nothing(
    platform: Platform, plant: PlantTenant, owned: tuple[str, str]
) -> None:
    key_id, webhook_id = owned
    viewer = plant.viewer
    with console_client(console_url(platform), viewer) as client:
        assert client.get("/settings/api-keys").status_code == 403
        assert client.post("/settings/api-keys", data=_form(viewer, name="mine")).status_code == 403
        assert client.post(f"/settings/api-keys/{key_id}/revoke", data=_form(viewer)).status_code == 403
        listed = client.get("/settings/webhooks")
        assert listed.status_code == 200 and webhook_id in listed.text
        assert 'action="/settings/webhooks"' not in listed.text
        page = client.get(f"/settings/webhooks/{webhook_id}")
        assert page.status_code == 200 and "Send a test event" not in page.text
        for action in ("test", "disable", "delete"):
            answer = client.post(f"/settings/webhooks/{webhook_id}/{action}", data=_form(viewer))
            assert answer.status_code == 403, action
        hook = _form(viewer, url="https://hooks.example.com/x", **{"event:alarm.raised": "on"})
        assert client.post("/settings/webhooks", data=hook).status_code == 403
    assert plant.partner.http.get(f"/v1/webhooks/{webhook_id}").json()["enabled"] is True


def test_a_tenants_admin_is_no_operator(platform: Platform, plant: PlantTenant) -> None:
    with console_client(console_url(platform), plant.admin) as admin:
        for path in ("/operator/tenants", "/operator/figures", "/operator/health"):
            assert admin.get(path).status_code == 403, path
        created = admin.post(
            "/operator/tenants", data=_form(plant.admin, name="Mine", country="CN", size_class="small")
        )
        assert created.status_code == 403
        suspended = admin.post(
            f"/operator/tenants/{plant.tenant_id}/suspend", data=_form(plant.admin, version="1")
        )
        assert suspended.status_code == 403
    assert plant.partner.http.get("/v1/devices").status_code == 200


def test_an_operator_has_no_tenant_settings(platform: Platform, registry_channel: grpc.Channel) -> None:
    with console_client(console_url(platform), operator(registry_channel)) as client:
        assert client.get("/settings/api-keys").status_code == 403
        assert client.get("/settings/webhooks").status_code == 403


def test_new_forms_without_the_sessions_token_are_refused(
    platform: Platform, plant: PlantTenant, owned: tuple[str, str], registry_channel: grpc.Channel
) -> None:
    key_id, webhook_id = owned
    forged = {"csrf_token": "forged"}
    with console_client(console_url(platform), plant.admin) as admin:
        posts = [
            "/settings/api-keys",
            f"/settings/api-keys/{key_id}/revoke",
            "/settings/webhooks",
            *(
                f"/settings/webhooks/{webhook_id}/{action}"
                for action in ("test", "enable", "disable", "delete")
            ),
        ]
        for path in posts:
            assert admin.post(path, data={**forged, "name": "x"}).status_code == 403, path
            assert admin.post(path, data={"name": "no token"}).status_code == 403, path
    with console_client(console_url(platform), operator(registry_channel)) as client:
        for path in ("/operator/tenants", f"/operator/tenants/{plant.tenant_id}/suspend"):
            assert client.post(path, data=forged).status_code == 403, path
    assert plant.partner.http.get(f"/v1/webhooks/{webhook_id}").json()["enabled"] is True


def test_stored_input_renders_escaped(
    platform: Platform, plant: PlantTenant, owned: tuple[str, str], registry_channel: grpc.Channel
) -> None:
    with console_client(console_url(platform), plant.admin) as admin:
        issued = admin.post(
            "/settings/api-keys", data=_form(plant.admin, name=XSS, **{"scope:devices:read": "on"})
        )
        assert issued.status_code == 200
        assert issued.headers["cache-control"] == "no-store"
        listed = admin.get("/settings/api-keys").text
    sessions = operator(registry_channel)
    with console_client(console_url(platform), sessions) as client:
        created = client.post(
            "/operator/tenants", data=_form(sessions, name=f"Tenant {XSS}", country="CN", size_class="micro")
        )
        assert created.status_code == 200
        tenants = client.get("/operator/tenants").text
    for html in (issued.text, listed, created.text, tenants):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(" in html
    secret = re.search(r'<code class="one-time" id="issued-secret">([^<]+)</code>', issued.text)
    assert secret and secret.group(1) not in listed


def test_a_refused_form_names_its_fields(platform: Platform, plant: PlantTenant) -> None:
    with console_client(console_url(platform), plant.admin) as admin:
        no_scope = admin.post("/settings/api-keys", data=_form(plant.admin, name="nothing"))
        assert no_scope.status_code == 400
        assert 'id="key-scopes-error"' in no_scope.text
        scoped = {"scope:devices:read": "on"}
        for_a_week = admin.post(
            "/settings/api-keys", data=_form(plant.admin, name="week", lifetime="7", **scoped)
        )
        assert for_a_week.status_code == 400 and 'id="key-lifetime-error"' in for_a_week.text
        for_a_month = admin.post(
            "/settings/api-keys", data=_form(plant.admin, name="month", lifetime="30", **scoped)
        )
        assert for_a_month.status_code == 200
        bad_url = admin.post(
            "/settings/webhooks", data=_form(plant.admin, url="ftp://x", **{"event:alarm.raised": "on"})
        )
        assert bad_url.status_code == 400
        assert 'id="webhook-url-error"' in bad_url.text and 'value="ftp://x"' in bad_url.text
    keys = {key["name"]: key for key in plant.partner.http.get("/v1/api-keys").json()["items"]}
    assert "week" not in keys and keys["month"]["expires_at"] is not None
