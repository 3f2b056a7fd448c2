"""Webhooks on PostgreSQL: subscriptions through analytics's gRPC API, and alarm events
queued once per subscriber."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
from gantry.v1 import analytics_pb2 as pb
from gantry.v1 import common_pb2

from services.analytics.usecases.webhooks import Webhooks
from services.kit.protos import from_timestamp
from services.kit.store import Store
from tests.support.access import ManualClock, code_of, violations
from tests.support.analytics import Stub, alarm_event, analytics_server, analytics_store
from tests.support.backends import postgres_database

NOT_FOUND = grpc.StatusCode.NOT_FOUND


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with analytics_store(database_url) as analytics:
        yield analytics


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stub]:
    """The API as `make run` and tests set it: receivers on this machine, over http."""
    monkeypatch.setenv("GANTRY_ANALYTICS_WEBHOOKS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("GANTRY_ANALYTICS_WEBHOOKS_ALLOW_HTTP", "true")
    with analytics_server(store, clock) as stub:
        yield stub


def tenant() -> str:
    return str(uuid.uuid4())


def create(api: Stub, tenant_id: str, url: str, *types: str) -> pb.CreateWebhookResponse:
    request = pb.CreateWebhookRequest(tenant_id=tenant_id, url=url, event_types=types or ["alarm.raised"])
    return api.CreateWebhook(request)


def ref(tenant_id: str, webhook_id: str) -> pb.GetWebhookRequest:
    return pb.GetWebhookRequest(tenant_id=tenant_id, webhook_id=webhook_id)


def deliveries(api: Stub, tenant_id: str, webhook_id: str) -> list[pb.WebhookDelivery]:
    request = pb.ListWebhookDeliveriesRequest(tenant_id=tenant_id, webhook_id=webhook_id)
    return list(api.ListWebhookDeliveries(request).deliveries)


# --- Subscriptions ----------------------------------------------------------------


def test_a_webhook_is_created_listed_disabled_enabled_and_deleted(api: Stub, clock: ManualClock) -> None:
    owner = tenant()
    created = create(
        api, owner, "https://93.184.215.14/hooks", "alarm.raised", "alarm.cleared", "alarm.raised"
    )
    webhook = created.webhook
    assert created.secret.startswith("whsec_") and len(created.secret) == len("whsec_") + 43
    assert (webhook.tenant_id, webhook.url, list(webhook.event_types)) == (
        owner,
        "https://93.184.215.14/hooks",
        ["alarm.raised", "alarm.cleared"],
    )
    assert webhook.enabled and not webhook.disabled_reason and not webhook.HasField("failing_since")
    assert from_timestamp(webhook.created_at) == clock()
    assert api.GetWebhook(ref(owner, webhook.id)) == webhook

    for _ in range(2):
        clock.advance(timedelta(seconds=1))
        create(api, owner, "https://93.184.215.14/other")
    first = api.ListWebhooks(
        pb.ListWebhooksRequest(tenant_id=owner, page=common_pb2.PageRequest(page_size=2))
    )
    rest = api.ListWebhooks(
        pb.ListWebhooksRequest(
            tenant_id=owner, page=common_pb2.PageRequest(page_size=2, cursor=first.page.next_cursor)
        )
    )
    listed = [*first.webhooks, *rest.webhooks]
    assert len(listed) == 3 and listed[-1] == webhook and not rest.page.next_cursor

    toggle = pb.SetWebhookEnabledRequest(tenant_id=owner, webhook_id=webhook.id, enabled=False)
    disabled = api.SetWebhookEnabled(toggle)
    assert (disabled.enabled, disabled.disabled_reason) == (False, "by request")
    toggle.enabled = True
    assert api.SetWebhookEnabled(toggle) == webhook

    assert api.DeleteWebhook(ref(owner, webhook.id)) == webhook
    assert code_of(lambda: api.GetWebhook(ref(owner, webhook.id))) == NOT_FOUND
    assert code_of(lambda: api.DeleteWebhook(ref(owner, webhook.id))) == NOT_FOUND
    assert webhook.id not in [
        w.id for w in api.ListWebhooks(pb.ListWebhooksRequest(tenant_id=owner)).webhooks
    ]


def test_invalid_webhooks_are_refused_field_by_field(api: Stub) -> None:
    owner = tenant()
    assert violations(lambda: create(api, owner, "", "alarm.raised", "device.registered")) == {
        "url": "required",
        "event_types[1]": "one of alarm.raised, alarm.severity_changed, alarm.acknowledged, alarm.cleared",
    }
    request = pb.CreateWebhookRequest(tenant_id=owner, url="ftp://93.184.215.14/")
    assert violations(lambda: api.CreateWebhook(request)) == {
        "url": "must be an https or http URL",
        "event_types": "at least one of alarm.raised, alarm.severity_changed, alarm.acknowledged, alarm.cleared",
    }
    assert violations(lambda: create(api, owner, "https://partner:secret@93.184.215.14/")) == {
        "url": "must not carry credentials"
    }
    assert violations(lambda: create(api, "acme", "https://93.184.215.14/")) == {
        "tenant_id": "must be a UUID"
    }
    assert violations(lambda: api.GetWebhook(ref(owner, "7"))) == {"webhook_id": "must be a UUID"}
    listing = pb.ListWebhooksRequest(tenant_id=owner, page=common_pb2.PageRequest(cursor="forged"))
    assert violations(lambda: api.ListWebhooks(listing)) == {"page.cursor": "not a cursor of this list"}


def test_production_refuses_targets_inside_the_platforms_network(store: Store, clock: ManualClock) -> None:
    with analytics_server(store, clock) as strict:
        owner = tenant()
        assert violations(lambda: create(strict, owner, "http://93.184.215.14/")) == {
            "url": "must be an https URL: http is not allowed here"
        }
        assert violations(lambda: create(strict, owner, "https://169.254.169.254/latest/meta-data")) == {
            "url": "must not target a link-local address (169.254.169.254)"
        }
        assert violations(lambda: create(strict, owner, "https://localhost:8443/")) == {
            "url": "localhost resolves to a loopback address (127.0.0.1)"
        }


def test_a_tenant_has_at_most_twenty_webhooks(api: Stub) -> None:
    owner = tenant()
    made = [create(api, owner, f"https://93.184.215.14/{n}").webhook for n in range(20)]
    assert (
        code_of(lambda: create(api, owner, "https://93.184.215.14/21")) == grpc.StatusCode.FAILED_PRECONDITION
    )
    create(api, tenant(), "https://93.184.215.14/another-tenant")
    api.DeleteWebhook(ref(owner, made[0].id))
    create(api, owner, "https://93.184.215.14/21")


def test_another_tenants_webhook_is_not_found_and_stays_as_it_was(api: Stub, store: Store) -> None:
    owner, other = tenant(), tenant()
    webhook = create(api, owner, "https://93.184.215.14/hooks").webhook
    probes = {
        "GetWebhook": lambda: api.GetWebhook(ref(other, webhook.id)),
        "SetWebhookEnabled": lambda: api.SetWebhookEnabled(
            pb.SetWebhookEnabledRequest(tenant_id=other, webhook_id=webhook.id, enabled=False)
        ),
        "DeleteWebhook": lambda: api.DeleteWebhook(ref(other, webhook.id)),
        "SendTestEvent": lambda: api.SendTestEvent(ref(other, webhook.id)),
        "ListWebhookDeliveries": lambda: deliveries(api, other, webhook.id),
        "unknown id": lambda: api.GetWebhook(ref(owner, str(uuid.uuid4()))),
    }
    for name, probe in probes.items():
        assert code_of(probe) == NOT_FOUND, name
    assert not api.ListWebhooks(pb.ListWebhooksRequest(tenant_id=other)).webhooks
    Webhooks(store.unit_of_work).enqueue(alarm_event(other))
    assert api.GetWebhook(ref(owner, webhook.id)) == webhook
    assert deliveries(api, owner, webhook.id) == []


# --- Queueing ---------------------------------------------------------------------


def test_an_alarm_event_is_queued_once_for_each_subscriber_to_its_type(api: Stub, store: Store) -> None:
    owner = tenant()
    raised = create(api, owner, "https://93.184.215.14/raised").webhook
    everything = create(api, owner, "https://93.184.215.14/all", "alarm.raised", "alarm.cleared").webhook
    cleared_only = create(api, owner, "https://93.184.215.14/cleared", "alarm.cleared").webhook
    disabled = create(api, owner, "https://93.184.215.14/off").webhook
    api.SetWebhookEnabled(pb.SetWebhookEnabledRequest(tenant_id=owner, webhook_id=disabled.id, enabled=False))
    event = alarm_event(owner)
    queue = Webhooks(store.unit_of_work)

    assert queue.enqueue(event) == 2
    assert queue.enqueue(event) == 0
    for webhook in (raised, everything):
        (delivery,) = deliveries(api, owner, webhook.id)
        assert (delivery.event_id, delivery.event_type, delivery.state) == (event.id, event.type, "pending")
        assert delivery.HasField("next_attempt_at") and not delivery.attempts
    for webhook in (cleared_only, disabled):
        assert deliveries(api, owner, webhook.id) == []


def test_deliveries_are_listed_newest_first_page_by_page(api: Stub, store: Store, clock: ManualClock) -> None:
    owner = tenant()
    webhook = create(api, owner, "https://93.184.215.14/hooks").webhook
    queue = Webhooks(store.unit_of_work, clock=clock)
    events = [alarm_event(owner) for _ in range(3)]
    for event in events:
        clock.advance(timedelta(seconds=1))
        queue.enqueue(event)

    request = pb.ListWebhookDeliveriesRequest(
        tenant_id=owner, webhook_id=webhook.id, page=common_pb2.PageRequest(page_size=2)
    )
    first = api.ListWebhookDeliveries(request)
    request.page.cursor = first.page.next_cursor
    rest = api.ListWebhookDeliveries(request)
    listed = [delivery.event_id for delivery in [*first.deliveries, *rest.deliveries]]
    assert listed == [event.id for event in reversed(events)] and not rest.page.next_cursor
