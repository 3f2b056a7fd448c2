"""Webhook subscriptions through the partner API, on the whole platform: the signing
secret shown once, subscriptions refused field by field, guarded by scope and out of
other tenants' reach; and a test event sent, signed, to a receiver subscribed over the
gateway, its delivery then listed with its attempt."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from services.analytics.domain.webhooks import verify
from services.kit.events import ALARM_EVENTS
from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.receiver import Receiver, receiving
from tests.support.waiting import eventually

PROBLEM = "application/problem+json"
ANALYTICS = ["analytics:read", "analytics:write"]
# The e2e platform allows http and private targets (tests/support/platform.py); nothing is
# sent to this one but test events.
URL = "https://partner.example/hooks/gantry"
SUBSCRIPTION = {"url": URL, "event_types": ["alarm.raised", "alarm.cleared"]}


@dataclass
class Tenant:
    admin: PartnerClient
    # A key of the analytics scopes alone, which manages the subscriptions.
    analyst: PartnerClient

    def key(self, *scopes: str) -> PartnerClient:
        created = self.admin.http.post("/v1/api-keys", json={"name": "key", "scopes": list(scopes)})
        assert created.status_code == 201, created.text
        return self.admin.as_tenant(created.json()["secret"])

    def subscribe(self, url: str = URL) -> dict[str, Any]:
        response = self.analyst.http.post("/v1/webhooks", json={**SUBSCRIPTION, "url": url})
        assert response.status_code == 201, response.text
        return response.json()

    def webhooks(self) -> list[dict[str, Any]]:
        listed = self.analyst.http.get("/v1/webhooks", params={"limit": 1000})
        assert listed.status_code == 200, listed.text
        return listed.json()["items"]


def _tenant(platform: Platform, name: str) -> Tenant:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    admin = operator.as_tenant(operator.create_tenant(name)["api_key"])
    tenant = Tenant(admin, admin)
    tenant.analyst = tenant.key(*ANALYTICS)
    return tenant


@pytest.fixture(scope="module")
def tenant(platform: Platform) -> Tenant:
    return _tenant(platform, "Hooked Works")


@pytest.fixture(scope="module")
def stranger(platform: Platform) -> Tenant:
    return _tenant(platform, "Stranger Hooks")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as endpoint:
        yield endpoint


def test_a_subscription_is_created_read_listed_disabled_enabled_and_deleted(tenant: Tenant) -> None:
    http = tenant.analyst.http
    once = {"Idempotency-Key": "webhook-1"}
    created = http.post("/v1/webhooks", json=SUBSCRIPTION, headers=once)
    assert created.status_code == 201, created.text
    webhook = created.json()
    secret = webhook.pop("secret")
    assert secret.startswith("whsec_")
    replayed = http.post("/v1/webhooks", json=SUBSCRIPTION, headers=once)
    assert (replayed.json(), replayed.headers["idempotent-replayed"]) == (
        {**webhook, "secret": secret},
        "true",
    )
    url = f"/v1/webhooks/{webhook['id']}"
    assert created.headers["location"] == url
    assert (webhook["url"], webhook["event_types"], webhook["enabled"], webhook["failing_since"]) == (
        URL,
        SUBSCRIPTION["event_types"],
        True,
        None,
    )
    # The secret is shown once: never again, read alone or in a list.
    assert http.get(url).json() == webhook
    other = tenant.subscribe()
    first = http.get("/v1/webhooks", params={"limit": 1}).json()
    rest = http.get("/v1/webhooks", params={"cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    listed = first["items"] + rest["items"]
    assert {webhook["id"], other["id"]} <= {item["id"] for item in listed}
    assert not any("secret" in item for item in listed)

    disabled = http.post(f"{url}/disable")
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["enabled"], disabled.json()["disabled_reason"]) == (False, "by request")
    refused = http.post(f"{url}/test")
    assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM)
    enabled = http.post(f"{url}/enable").json()
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, "")
    assert http.get(f"{url}/deliveries").json() == {"items": [], "next_cursor": ""}

    deleted = http.delete(url)
    assert (deleted.status_code, deleted.json()["id"]) == (200, webhook["id"])
    for method, path in (
        ("GET", url),
        ("DELETE", url),
        ("POST", f"{url}/test"),
        ("GET", f"{url}/deliveries"),
    ):
        assert http.request(method, path).status_code == 404, (method, path)
    assert webhook["id"] not in {item["id"] for item in tenant.webhooks()}


HOSTILE: dict[str, tuple[Any, str]] = {
    "no URL": ({"event_types": ["alarm.raised"]}, "url"),
    "an empty URL": ({**SUBSCRIPTION, "url": ""}, "url"),
    "a URL that is a number": ({**SUBSCRIPTION, "url": 443}, "url"),
    "an over-long URL": ({**SUBSCRIPTION, "url": f"{URL}/{'x' * 2048}"}, "url"),
    "a javascript: URL": ({**SUBSCRIPTION, "url": "javascript:alert(1)"}, "url"),
    "an ftp URL": ({**SUBSCRIPTION, "url": "ftp://partner.example/hooks"}, "url"),
    "credentials in the URL": ({**SUBSCRIPTION, "url": "https://me:pw@partner.example/hooks"}, "url"),
    "no host": ({**SUBSCRIPTION, "url": "https:///hooks"}, "url"),
    "a port out of range": ({**SUBSCRIPTION, "url": "https://partner.example:70000/"}, "url"),
    "a control character in the URL": ({**SUBSCRIPTION, "url": f"{URL}\r\nX-Injected: 1"}, "url"),
    "no event types": ({"url": URL}, "event_types"),
    "an empty list of event types": ({**SUBSCRIPTION, "event_types": []}, "event_types"),
    "an unknown event type": (
        {**SUBSCRIPTION, "event_types": ["alarm.raised", "tenant.created"]},
        "event_types.1",
    ),
    "event types that are a string": ({**SUBSCRIPTION, "event_types": "alarm.raised"}, "event_types"),
    "an event type that is a number": ({**SUBSCRIPTION, "event_types": [7]}, "event_types.0"),
    "too many event types": (
        {**SUBSCRIPTION, "event_types": [*ALARM_EVENTS, ALARM_EVENTS[0]]},
        "event_types",
    ),
    "a secret of one's choosing": ({**SUBSCRIPTION, "secret": "whsec_known"}, "secret"),
    "an unknown field": ({**SUBSCRIPTION, "enabled": False}, "enabled"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_subscriptions_are_refused_naming_their_field(tenant: Tenant, case: str) -> None:
    body, field = HOSTILE[case]
    before = tenant.webhooks()
    response = tenant.analyst.http.post("/v1/webhooks", json=body)
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM), response.text
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert tenant.webhooks() == before


def test_bodies_that_are_no_subscription_at_all_are_refused(tenant: Tenant) -> None:
    http, json = tenant.analyst.http, {"content-type": "application/json"}
    for content in (b"[]", b'"https://partner.example"', b"{", b"{" * 5000 + b"}" * 5000):
        response = http.post("/v1/webhooks", content=content, headers=json)
        assert (response.status_code, response.json()["type"]) == (400, "urn:gantry:problem:malformed-json")
    assert http.post("/v1/webhooks", content=b"x" * (2 * 1024 * 1024), headers=json).status_code == 413
    assert http.post("/v1/webhooks", content=orjson.dumps(SUBSCRIPTION)).status_code == 415
    assert http.get("/v1/webhooks/not-a-uuid").json()["errors"][0]["field"] == "webhook_id"
    assert http.get("/v1/webhooks", params={"limit": 0}).status_code == 422


def test_subscriptions_need_the_analytics_scopes(platform: Platform, tenant: Tenant) -> None:
    webhook = tenant.subscribe()
    url = f"/v1/webhooks/{webhook['id']}"
    reader = tenant.key("analytics:read")
    devices = tenant.key("devices:read", "devices:write")
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    reads = ("/v1/webhooks", url, f"{url}/deliveries")
    for path in reads:
        assert reader.http.get(path).status_code == 200, path
    writes = [
        ("POST", "/v1/webhooks", SUBSCRIPTION),
        ("POST", f"{url}/disable", None),
        ("POST", f"{url}/enable", None),
        ("POST", f"{url}/test", None),
        ("DELETE", url, None),
    ]
    for method, path, body in writes:
        for client in (reader, devices):
            refused = client.http.request(method, path, json=body)
            assert (refused.status_code, refused.json()["type"]) == (
                403,
                "urn:gantry:problem:insufficient-scope",
            )
        assert (
            operator.http.request(method, path, json=body).json()["detail"]
            == "this route needs a tenant's API key"
        )
    for path in reads:
        assert devices.http.get(path).status_code == 403
        assert operator.http.get(path).json()["detail"] == "this route needs a tenant's API key"
    assert tenant.analyst.http.get(url).json() == {k: v for k, v in webhook.items() if k != "secret"}
    assert tenant.analyst.http.get(f"{url}/deliveries").json()["items"] == []


def test_another_tenants_subscriptions_are_out_of_reach(tenant: Tenant, stranger: Tenant) -> None:
    webhook = tenant.subscribe()
    url = f"/v1/webhooks/{webhook['id']}"
    before = tenant.analyst.http.get(url).json()
    probes = [
        ("GET", url),
        ("POST", f"{url}/disable"),
        ("POST", f"{url}/enable"),
        ("POST", f"{url}/test"),
        ("GET", f"{url}/deliveries"),
        ("DELETE", url),
    ]
    for method, path in probes:
        response = stranger.analyst.http.request(method, path)
        assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM), (method, path)
    assert stranger.webhooks() == []
    assert tenant.analyst.http.get(url).json() == before
    assert tenant.analyst.http.get(f"{url}/deliveries").json()["items"] == []


def test_a_test_event_reaches_the_subscribed_receiver_signed_and_is_listed(
    tenant: Tenant, receiver: Receiver
) -> None:
    webhook = tenant.subscribe(receiver.url())
    url = f"/v1/webhooks/{webhook['id']}"
    sent = tenant.analyst.http.post(f"{url}/test")
    assert sent.status_code == 202, sent.text
    queued = sent.json()
    assert (queued["webhook_id"], queued["event_type"], queued["state"], queued["attempts"]) == (
        webhook["id"],
        "webhook.test",
        "pending",
        [],
    )

    received = eventually(lambda: receiver.received, timeout=30, what="the test event to arrive")
    (request,) = received
    assert request.headers["gantry-event-id"] == queued["event_id"]
    assert request.headers["gantry-event-type"] == "webhook.test"
    verify(webhook["secret"], request.headers["gantry-signature"], request.body)
    assert orjson.loads(request.body)["type"] == "webhook.test"

    def delivered() -> dict[str, Any] | None:
        (delivery,) = tenant.analyst.http.get(f"{url}/deliveries").json()["items"]
        return delivery if delivery["state"] == "delivered" else None

    delivery = eventually(delivered, timeout=30, what="the delivery to be recorded")
    assert (delivery["id"], delivery["event_id"], delivery["next_attempt_at"]) == (
        queued["id"],
        queued["event_id"],
        None,
    )
    (attempt,) = delivery["attempts"]
    assert (attempt["status_code"], attempt["error"]) == (200, "")
    assert attempt["duration_ms"] >= 0 and attempt["at"] >= delivery["created_at"]
