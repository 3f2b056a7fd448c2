"""Use cases of webhooks: a tenant subscribes a URL of its own to alarm events, lists,
disables, enables and deletes its subscriptions, sends one a test event and reads what
was delivered; every alarm event becomes one pending delivery per subscription to its
type (`enqueue`), which analytics-notifier then sends (see `usecases/deliveries.py`).

A subscription of another tenant, or a deleted one, does not exist for a tenant
(NotFound, never PermissionDenied, so that ids reveal nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from services.analytics.domain.targets import Resolver, UrlPolicy, resolve
from services.analytics.domain.webhooks import (
    BY_REQUEST,
    MAX_WEBHOOKS_PER_TENANT,
    TEST_EVENT_TYPE,
    Attempt,
    Delivery,
    Webhook,
    new_delivery,
    new_secret,
)
from services.analytics.queries import webhooks as queries
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.kit import pagination
from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.kit.events import ALARM_EVENTS, Event
from services.kit.validation import require_uuid


class Webhooks:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        policy: UrlPolicy | None = None,
        clock: Clock = utc_now,
        resolver: Resolver = resolve,
    ) -> None:
        self._unit_of_work = unit_of_work
        # Without a policy, the strictest: production's.
        self._policy = policy or UrlPolicy()
        self._clock = clock
        self._resolver = resolver

    def create(self, tenant_id: str, url: str, event_types: Sequence[str]) -> tuple[Webhook, str]:
        """A subscription of the tenant's, enabled, and its signing secret, which is not
        shown again. At most `MAX_WEBHOOKS_PER_TENANT` per tenant."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        url = url.strip()
        violations = [*self._url_violations(url), *_event_type_violations(event_types)]
        if violations:
            raise InvalidArgument(violations)
        webhook = Webhook(
            str(uuid.uuid4()), tenant_id, url, tuple(dict.fromkeys(event_types)), True, "", self._clock()
        )
        secret = new_secret()
        with self._unit_of_work() as uow:
            queries.lock_tenant_webhooks(uow.connection, tenant_id)
            if queries.count_webhooks(uow.connection, tenant_id) >= MAX_WEBHOOKS_PER_TENANT:
                raise FailedPrecondition(f"a tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks")
            queries.add_webhook(uow.connection, webhook, secret)
            uow.commit()
        return webhook, secret

    def get(self, tenant_id: str, webhook_id: str) -> Webhook:
        tenant_id, webhook_id = _ids(tenant_id, webhook_id)
        with self._unit_of_work(read_only=True) as uow:
            return _own(queries.find_webhook(uow.connection, webhook_id), tenant_id)

    def list(self, tenant_id: str, size: int = 0, cursor: str = "") -> tuple[list[Webhook], str]:
        """A page of the tenant's subscriptions, newest first."""
        tenant_id = require_uuid(tenant_id, "tenant_id")
        limit = pagination.page_size(size)
        listing = {"webhooks_of": tenant_id}
        after = pagination.time_and_id(pagination.decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            found = queries.tenant_webhooks(uow.connection, tenant_id, after, limit + 1)
        return pagination.keyset_page(found, limit, _position, listing)

    def set_enabled(self, tenant_id: str, webhook_id: str, enabled: bool) -> Webhook:
        """Enables the subscription (its failures forgotten) or disables it; disabling
        abandons its pending deliveries."""
        tenant_id, webhook_id = _ids(tenant_id, webhook_id)
        with self._unit_of_work() as uow:
            webhook = _own(queries.find_webhook(uow.connection, webhook_id, lock=True), tenant_id)
            changed = webhook.enabled_again() if enabled else webhook.disabled(BY_REQUEST)
            if changed != webhook:
                queries.save_webhook(uow.connection, changed)
                if not changed.enabled:
                    queries.abandon_pending(uow.connection, webhook_id)
                uow.commit()
        return changed

    def delete(self, tenant_id: str, webhook_id: str) -> Webhook:
        """Deletes the subscription, abandoning its pending deliveries; answers it as it
        stood. Its deliveries and their attempts are kept, as records of what was sent."""
        tenant_id, webhook_id = _ids(tenant_id, webhook_id)
        with self._unit_of_work() as uow:
            webhook = _own(queries.find_webhook(uow.connection, webhook_id, lock=True), tenant_id)
            queries.save_webhook(uow.connection, replace(webhook, deleted=True))
            queries.abandon_pending(uow.connection, webhook_id)
            uow.commit()
        return webhook

    def send_test_event(self, tenant_id: str, webhook_id: str) -> Delivery:
        """A `webhook.test` delivery for this subscription alone, due at once; refused
        while the subscription is disabled, as it would never be sent."""
        tenant_id, webhook_id = _ids(tenant_id, webhook_id)
        now = self._clock()
        with self._unit_of_work() as uow:
            webhook = _own(queries.find_webhook(uow.connection, webhook_id, lock=True), tenant_id)
            if not webhook.enabled:
                raise FailedPrecondition("the webhook is disabled: enable it to send it a test event")
            data = {"webhook_id": webhook.id}
            delivery = new_delivery(webhook, str(uuid.uuid4()), TEST_EVENT_TYPE, now, data, now)
            queries.add_deliveries(uow.connection, [delivery])
            uow.commit()
        return delivery

    def deliveries(
        self, tenant_id: str, webhook_id: str, size: int = 0, cursor: str = ""
    ) -> tuple[list[tuple[Delivery, list[Attempt]]], str]:
        """A page of the subscription's deliveries, newest first, each with its attempts."""
        tenant_id, webhook_id = _ids(tenant_id, webhook_id)
        limit = pagination.page_size(size)
        listing = {"deliveries_of": webhook_id}
        after = pagination.time_and_id(pagination.decode_cursor(cursor, listing))
        with self._unit_of_work(read_only=True) as uow:
            _own(queries.find_webhook(uow.connection, webhook_id), tenant_id)
            found = queries.webhook_deliveries_page(uow.connection, webhook_id, after, limit + 1)
            page, next_cursor = pagination.keyset_page(found, limit, _position, listing)
            attempts = queries.attempts_of(uow.connection, [delivery.id for delivery in page])
        return [(delivery, attempts[delivery.id]) for delivery in page], next_cursor

    def enqueue(self, event: Event) -> int:
        """One pending delivery of an alarm event per subscription of its tenant to its
        type; returns how many were queued. Idempotent: an event handled already, or
        delivered to a subscription already, queues nothing more."""
        if event.type not in ALARM_EVENTS or event.tenant_id is None:
            return 0
        now = self._clock()
        with self._unit_of_work() as uow:
            if not uow.claim(event):
                return 0
            subscribed = [
                webhook
                for webhook in queries.subscribers(uow.connection, event.tenant_id)
                if event.type in webhook.event_types
            ]
            deliveries = [
                new_delivery(webhook, event.id, event.type, event.occurred_at, event.data, now)
                for webhook in subscribed
            ]
            queued = queries.add_deliveries(uow.connection, deliveries)
            uow.commit()
        return queued

    def _url_violations(self, url: str) -> list[FieldViolation]:
        if not url:
            return [FieldViolation("url", "required")]
        refusal = self._policy.refusal(url, self._resolver)
        return [FieldViolation("url", refusal)] if refusal else []


def _event_type_violations(event_types: Sequence[str]) -> list[FieldViolation]:
    allowed = ", ".join(ALARM_EVENTS)
    if not event_types:
        return [FieldViolation("event_types", f"at least one of {allowed}")]
    return [
        FieldViolation(f"event_types[{index}]", f"one of {allowed}")
        for index, event_type in enumerate(event_types)
        if event_type not in ALARM_EVENTS
    ]


def _ids(tenant_id: str, webhook_id: str) -> tuple[str, str]:
    return require_uuid(tenant_id, "tenant_id"), require_uuid(webhook_id, "webhook_id")


def _own(webhook: Webhook | None, tenant_id: str) -> Webhook:
    if webhook is None or webhook.deleted or webhook.tenant_id != tenant_id:
        raise NotFound("webhook not found")
    return webhook


def _position(item: Webhook | Delivery) -> list[str]:
    return [item.created_at.isoformat(), item.id]
