"""Webhooks on PostgreSQL: subscriptions through analytics's gRPC API, alarm events
queued once per subscriber, and analytics-notifier delivering them, signed, to a real HTTP
receiver on this machine: through its outages, up to the day of failures that disables a
subscription. Time is the notifier's injected clock, moved by the tests between passes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import httpx
import psycopg
import pytest
from gantry.v1 import analytics_pb2 as pb
from gantry.v1 import common_pb2
from sqlalchemy.exc import OperationalError

from services.analytics.domain.targets import Resolver, resolve
from services.analytics.domain.webhooks import verify
from services.analytics.notifier import Notifier
from services.analytics.settings import WebhookSettings
from services.analytics.usecases import UnitOfWorkFactory
from services.analytics.usecases.webhooks import Webhooks
from services.kit.db import UnitOfWork
from services.kit.protos import from_timestamp
from services.kit.store import Store
from tests.support.access import ManualClock, code_of, violations
from tests.support.analytics import Stub, alarm_event, analytics_server, analytics_store
from tests.support.backends import postgres_database
from tests.support.platform import free_port
from tests.support.receiver import Receiver, receiving
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
NOT_FOUND = grpc.StatusCode.NOT_FOUND
# Past any first retry (10 s, give or take a tenth), and past the hourly ones.
PAST_FIRST_RETRY = timedelta(seconds=12)
PAST_HOURLY_RETRY = timedelta(minutes=70)


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with analytics_store(database_url, lambda messages: None) as analytics:
        yield analytics


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stub]:
    """The API as `make run` and tests set it: receivers on this machine, over http."""
    monkeypatch.setenv("GANTRY_ANALYTICS_WEBHOOKS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("GANTRY_ANALYTICS_WEBHOOKS_ALLOW_HTTP", "true")
    with analytics_server(store, clock=clock) as stub:
        yield stub


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as endpoint:
        yield endpoint


def notifier(
    store: Store,
    clock: ManualClock,
    allow_private: bool = True,
    resolver: Resolver = resolve,
    unit_of_work: UnitOfWorkFactory | None = None,
) -> Notifier:
    config = WebhookSettings(allow_private=allow_private, allow_http=True, timeout_seconds=2, concurrency=4)
    return Notifier(unit_of_work or store.unit_of_work, config, clock, resolver, random.Random(7))


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


def attempts(delivery: pb.WebhookDelivery) -> list[tuple[int, str]]:
    return [(attempt.status_code, attempt.error) for attempt in delivery.attempts]


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
    with analytics_server(store, clock=clock) as strict:
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


# --- Delivering -------------------------------------------------------------------


def test_a_delivery_reaches_its_receiver_signed(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    owner = tenant()
    created = create(api, owner, receiver.url())
    event = alarm_event(owner)
    Webhooks(store.unit_of_work, clock=clock).enqueue(event)

    assert notifier(store, clock).run_once() == 1
    (received,) = receiver.received
    verify(created.secret, received.headers["gantry-signature"], received.body, now=clock())
    assert received.headers["gantry-event-id"] == event.id
    assert received.headers["gantry-event-type"] == "alarm.raised"
    assert received.headers["user-agent"] == "Gantry-Webhooks/1"
    assert received.headers["host"] == f"127.0.0.1:{receiver.port}"
    body = json.loads(received.body)
    assert (body["id"], body["type"], body["tenant_id"]) == (event.id, "alarm.raised", owner)
    assert body["created_at"] == event.occurred_at.isoformat()
    assert body["data"]["name"] == "spindle overheating" and body["data"]["reading"]["spindle_temp"] == 92.5

    (delivery,) = deliveries(api, owner, created.webhook.id)
    assert delivery.state == "delivered" and not delivery.HasField("next_attempt_at")
    assert attempts(delivery) == [(200, "")]
    assert notifier(store, clock).run_once() == 0


def test_every_event_is_delivered_once_the_receiver_is_back(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    owner = tenant()
    webhook = create(api, owner, receiver.url()).webhook
    events = [alarm_event(owner, kind) for kind in ("alarm.raised", "alarm.raised", "alarm.raised")]
    for event in events:
        Webhooks(store.unit_of_work, clock=clock).enqueue(event)
    sender = notifier(store, clock)
    first_failure = clock()

    receiver.status = 503
    assert sender.run_once() == 3
    assert sender.run_once() == 0, "a failed delivery waits for its backoff"
    receiver.stop()
    for wait in (PAST_FIRST_RETRY, timedelta(seconds=35)):
        clock.advance(wait)
        assert sender.run_once() == 3
    failing = api.GetWebhook(ref(owner, webhook.id))
    assert failing.enabled and from_timestamp(failing.failing_since) == first_failure
    assert {d.state for d in deliveries(api, owner, webhook.id)} == {"pending"}

    receiver.status = 200
    receiver.start()
    received_before = len(receiver.received)
    clock.advance(timedelta(seconds=70))
    assert sender.run_once() == 3
    back = [r.headers["gantry-event-id"] for r in receiver.received[received_before:]]
    assert sorted(back) == sorted(event.id for event in events)
    for delivery in deliveries(api, owner, webhook.id):
        assert delivery.state == "delivered" and not delivery.HasField("next_attempt_at")
        assert attempts(delivery) == [
            (503, "HTTP 503"),
            (0, "connection refused"),
            (0, "connection refused"),
            (200, ""),
        ]
        assert all(attempt.duration_ms >= 0 for attempt in delivery.attempts)
    assert not api.GetWebhook(ref(owner, webhook.id)).HasField("failing_since")


def test_a_day_of_failures_disables_the_webhook_and_abandons_its_deliveries(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    owner = tenant()
    webhook = create(api, owner, receiver.url()).webhook
    receiver.stop()
    for _ in range(2):
        Webhooks(store.unit_of_work, clock=clock).enqueue(alarm_event(owner))
    sender = notifier(store, clock)
    started = clock()

    while clock() - started < timedelta(hours=24):
        assert sender.run_once() == 2
        assert api.GetWebhook(ref(owner, webhook.id)).enabled
        clock.advance(PAST_HOURLY_RETRY)
    assert sender.run_once() == 2

    disabled = api.GetWebhook(ref(owner, webhook.id))
    assert (disabled.enabled, disabled.disabled_reason) == (False, "failing for a day")
    assert from_timestamp(disabled.failing_since) == started
    for delivery in deliveries(api, owner, webhook.id):
        assert delivery.state == "abandoned" and not delivery.HasField("next_attempt_at")
        assert {error for _, error in attempts(delivery)} == {"connection refused"}
    clock.advance(PAST_HOURLY_RETRY)
    assert sender.run_once() == 0
    assert code_of(lambda: api.SendTestEvent(ref(owner, webhook.id))) == grpc.StatusCode.FAILED_PRECONDITION

    enabled = api.SetWebhookEnabled(
        pb.SetWebhookEnabledRequest(tenant_id=owner, webhook_id=webhook.id, enabled=True)
    )
    assert (enabled.enabled, enabled.disabled_reason, enabled.HasField("failing_since")) == (True, "", False)
    assert {d.state for d in deliveries(api, owner, webhook.id)} == {"abandoned"}


def test_a_test_event_goes_to_that_webhook_alone(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    owner = tenant()
    created = create(api, owner, receiver.url("/tested"))
    create(api, owner, receiver.url("/untouched"))

    queued = api.SendTestEvent(ref(owner, created.webhook.id))
    assert (queued.webhook_id, queued.event_type, queued.state) == (
        created.webhook.id,
        "webhook.test",
        "pending",
    )
    assert notifier(store, clock).run_once() == 1
    (received,) = receiver.received
    assert received.path == "/tested"
    verify(created.secret, received.headers["gantry-signature"], received.body, now=clock())
    body = json.loads(received.body)
    assert (body["id"], body["type"], body["data"]) == (
        queued.event_id,
        "webhook.test",
        {"webhook_id": created.webhook.id},
    )
    assert [d.state for d in deliveries(api, owner, created.webhook.id)] == ["delivered"]


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    owner = tenant()
    webhook = create(api, owner, receiver.url("/moved")).webhook
    receiver.status = 302
    receiver.answer_headers = {"Location": receiver.url("/elsewhere")}
    api.SendTestEvent(ref(owner, webhook.id))

    assert notifier(store, clock).run_once() == 1
    assert [r.path for r in receiver.received] == ["/moved"]
    (delivery,) = deliveries(api, owner, webhook.id)
    assert delivery.state == "pending"
    assert attempts(delivery) == [(302, "HTTP 302: redirects are not followed")]


def test_a_target_refused_when_it_is_due_is_never_contacted(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    # Allowed when created, as a name may point anywhere later; checked again before each
    # attempt, and this notifier allows no private target.
    owner = tenant()
    webhook = create(api, owner, receiver.url(host="localhost")).webhook
    api.SendTestEvent(ref(owner, webhook.id))

    assert notifier(store, clock, allow_private=False).run_once() == 1
    assert receiver.received == []
    ((status, error),) = attempts(deliveries(api, owner, webhook.id)[0])
    assert status == 0
    assert error.startswith("refused target: localhost resolves to a loopback address")


def test_a_defect_met_sending_one_delivery_fails_that_attempt_alone(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    owner = tenant()
    broken = create(api, owner, f"http://receiver.test:{receiver.port}/hooks").webhook
    working = create(api, owner, receiver.url()).webhook
    for webhook in (broken, working):
        api.SendTestEvent(ref(owner, webhook.id))

    def resolver(host: str, port: int) -> list[str]:
        return ["not an address"]

    assert notifier(store, clock, resolver=resolver).run_once() == 2
    assert attempts(deliveries(api, owner, broken.id)[0]) == [(0, "internal error")]
    assert attempts(deliveries(api, owner, working.id)[0]) == [(200, "")]


class FailingOnce:
    """The store's units of work, but the one numbered `failing` meets a database that
    went away, as a restart of PostgreSQL makes it."""

    def __init__(self, store: Store, failing: int) -> None:
        self._store = store
        self._failing = failing
        self._made = 0

    def __call__(self, read_only: bool = False) -> UnitOfWork:
        self._made += 1
        if self._made == self._failing:
            lost = psycopg.OperationalError("server closed the connection unexpectedly")
            raise OperationalError("COMMIT", {}, lost, connection_invalidated=True)
        return self._store.unit_of_work(read_only)


def test_an_attempt_is_recorded_once_the_database_answers_again_and_not_sent_twice(
    api: Stub, store: Store, clock: ManualClock, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    owner = tenant()
    webhook = create(api, owner, receiver.url()).webhook
    api.SendTestEvent(ref(owner, webhook.id))
    # The first unit of work leases the delivery; the second, recording its attempt, fails.
    sender = notifier(store, clock, unit_of_work=FailingOnce(store, failing=2))

    assert sender.run_once() == 1
    assert "database unavailable; retrying" in caplog.messages
    assert len(receiver.received) == 1
    (delivery,) = deliveries(api, owner, webhook.id)
    assert delivery.state == "delivered" and attempts(delivery) == [(200, "")]


def test_the_notifier_process_delivers_and_stops_on_sigterm(
    api: Stub, database_url: str, receiver: Receiver
) -> None:
    owner = tenant()
    webhook = create(api, owner, receiver.url()).webhook
    api.SendTestEvent(ref(owner, webhook.id))
    metrics_port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "GANTRY_ANALYTICS_DATABASE_URL": database_url,
        "GANTRY_ANALYTICS_WEBHOOKS_ALLOW_PRIVATE": "true",
        "GANTRY_ANALYTICS_WEBHOOKS_ALLOW_HTTP": "true",
        "GANTRY_METRICS_PORT": str(metrics_port),
        "GANTRY_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.analytics.notifier"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        eventually(
            lambda: [d for d in deliveries(api, owner, webhook.id) if d.state == "delivered"],
            what="the delivery",
        )
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'gantry_analytics_webhook_attempts_total{outcome="delivered"} 1.0' in scraped
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, errors = process.communicate()
    assert len(receiver.received) == 1
    records = [json.loads(line) for line in errors.splitlines()]
    assert any(record["message"] == "stopping" and record["signal"] == "SIGTERM" for record in records)
