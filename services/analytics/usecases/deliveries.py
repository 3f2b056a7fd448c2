"""The use cases of analytics-notifier: leasing the deliveries that are due, and recording
each attempt with what it means for its subscription.

A delivery is retried on the schedule of `domain.webhooks.retry_delay` until it
succeeds or its subscription is disabled. A subscription records since when every one
of its deliveries has failed (`failing_since`, cleared by any success); after
`DISABLE_AFTER` of that, it is disabled and its pending deliveries abandoned.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from services.analytics.domain.webhooks import (
    FAILING_FOR_A_DAY,
    Attempt,
    Delivery,
    DeliveryState,
    Webhook,
    failing_too_long,
    retry_delay,
)
from services.analytics.queries import webhooks as queries
from services.analytics.queries.webhooks import DueDelivery
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now


class Deliveries:
    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = utc_now, rng: random.Random | None = None
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._rng = rng or random.Random()

    def lease_due(self, limit: int, lease: timedelta) -> list[DueDelivery]:
        """Up to `limit` deliveries due now, each kept from other notifiers for `lease`:
        longer than an attempt takes, or another notifier would send it too."""
        now = self._clock()
        with self._unit_of_work() as uow:
            due = queries.lease_due(uow.connection, now, now + lease, limit)
            uow.commit()
        return due

    def record(self, leased: Delivery, attempt: Attempt) -> bool:
        """Records an attempt of a leased delivery: delivered, or due again after its
        backoff; returns whether the failure disabled its subscription."""
        now = self._clock()
        with self._unit_of_work() as uow:
            webhook = queries.find_webhook(uow.connection, leased.webhook_id, lock=True)
            delivery = queries.lock_delivery(uow.connection, leased.id)
            assert webhook is not None, "subscriptions are never removed, only marked deleted"
            queries.add_attempt(uow.connection, delivery, attempt)
            if attempt.succeeded:
                # Sent is sent, even to a subscription disabled while the request was out.
                queries.set_delivery_state(uow.connection, delivery.id, DeliveryState.DELIVERED, None)
                after = replace(webhook, failing_since=None)
            elif delivery.state is DeliveryState.PENDING:
                after = _failed(webhook, attempt, now)
                if after.enabled:
                    due = now + retry_delay(delivery.attempts + 1, self._rng)
                    queries.set_delivery_state(uow.connection, delivery.id, DeliveryState.PENDING, due)
                else:
                    queries.abandon_pending(uow.connection, webhook.id)
            else:
                # Abandoned while the request was out: nothing more to do for it.
                after = webhook
            if after != webhook:
                queries.save_webhook(uow.connection, after)
            uow.commit()
        return webhook.enabled and not after.enabled


def _failed(webhook: Webhook, attempt: Attempt, now: datetime) -> Webhook:
    """The subscription after a failed attempt: failing since its first failure after
    a success, and disabled once that has lasted too long."""
    failing = replace(webhook, failing_since=webhook.failing_since or attempt.at)
    return failing.disabled(FAILING_FOR_A_DAY) if failing_too_long(failing.failing_since, now) else failing
