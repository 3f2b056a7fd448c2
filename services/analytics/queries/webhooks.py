"""Webhooks' SQL: subscriptions, their deliveries and the attempts of each.

A change of a subscription or of its deliveries locks the subscription first, then the
deliveries: one order of locks, so that disabling a subscription and recording an
attempt of one of its deliveries queue rather than deadlock, and neither undoes the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, tuple_, update

from services.analytics.domain.webhooks import Attempt, Delivery, DeliveryState, Webhook
from services.analytics.storage import webhook_attempts, webhook_deliveries, webhooks
from services.kit.db import insert_ignoring_duplicates

Position = tuple[datetime, str]
"""Where a page continues: after this (creation time, id), newest first."""

_WEBHOOK_COLUMNS = [column for column in webhooks.c if column.name != "secret"]


@dataclass(frozen=True)
class DueDelivery:
    """A delivery leased for an attempt, with what sending it takes."""

    delivery: Delivery
    url: str
    secret: str


def _webhook(row: Any) -> Webhook:
    mapping = row._mapping
    return Webhook(**{**mapping, "event_types": tuple(mapping["event_types"])})


def _delivery(row: Any) -> Delivery:
    mapping = row._mapping
    fields = {column.name: mapping[column.name] for column in webhook_deliveries.c}
    return Delivery(**{**fields, "state": DeliveryState(fields["state"])})


def _newest_first(table: Table, conditions: list[Any], after: Position | None, limit: int) -> Any:
    """The rows of `table` meeting `conditions`, newest first, after `after`."""
    key = tuple_(table.c.created_at, table.c.id)
    if after is not None:
        conditions = [*conditions, key < tuple_(*after)]
    return (
        table.select().where(*conditions).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
    )


# --- Subscriptions ----------------------------------------------------------------


def add_webhook(connection: Connection, webhook: Webhook, secret: str) -> None:
    row = {**vars(webhook), "event_types": list(webhook.event_types), "secret": secret}
    connection.execute(insert(webhooks).values(**row))


def lock_tenant_webhooks(connection: Connection, tenant_id: str) -> None:
    """Serialises the creations of one tenant's subscriptions until the transaction ends,
    so that two at once cannot both pass the count (SQLite serialises writers anyway)."""
    if connection.dialect.name == "postgresql":
        key = func.hashtextextended(f"webhooks:{tenant_id}", 0)
        connection.execute(select(func.pg_advisory_xact_lock(key)))


def count_webhooks(connection: Connection, tenant_id: str) -> int:
    """The tenant's subscriptions but the deleted ones."""
    query = select(func.count()).where(webhooks.c.tenant_id == tenant_id, webhooks.c.deleted.is_(False))
    return connection.execute(query).scalar_one()


def find_webhook(connection: Connection, webhook_id: str, lock: bool = False) -> Webhook | None:
    """The subscription, deleted or not; with `lock`, locked until the transaction ends."""
    query = select(*_WEBHOOK_COLUMNS).where(webhooks.c.id == webhook_id)
    row = connection.execute(query.with_for_update() if lock else query).first()
    return _webhook(row) if row else None


def tenant_webhooks(
    connection: Connection, tenant_id: str, after: Position | None, limit: int
) -> list[Webhook]:
    """The tenant's subscriptions but the deleted ones, newest first."""
    conditions = [webhooks.c.tenant_id == tenant_id, webhooks.c.deleted.is_(False)]
    query = _newest_first(webhooks, conditions, after, limit).with_only_columns(*_WEBHOOK_COLUMNS)
    return [_webhook(row) for row in connection.execute(query)]


def subscribers(connection: Connection, tenant_id: str) -> list[Webhook]:
    """The tenant's subscriptions that deliver: enabled, not deleted."""
    query = select(*_WEBHOOK_COLUMNS).where(
        webhooks.c.tenant_id == tenant_id, webhooks.c.enabled.is_(True), webhooks.c.deleted.is_(False)
    )
    return [_webhook(row) for row in connection.execute(query)]


def save_webhook(connection: Connection, webhook: Webhook) -> None:
    """Writes what changes of a subscription: whether it delivers, why not, since when
    it fails, and whether it is deleted."""
    connection.execute(
        update(webhooks)
        .where(webhooks.c.id == webhook.id)
        .values(
            enabled=webhook.enabled,
            disabled_reason=webhook.disabled_reason,
            failing_since=webhook.failing_since,
            deleted=webhook.deleted,
        )
    )


# --- Deliveries -------------------------------------------------------------------


def add_deliveries(connection: Connection, deliveries: Sequence[Delivery]) -> int:
    """Adds the deliveries but those of an event its subscription has already (the
    unique index on webhook and event); returns how many were new."""
    rows = [{**vars(delivery), "state": delivery.state.value} for delivery in deliveries]
    return insert_ignoring_duplicates(connection, webhook_deliveries, rows)


def abandon_pending(connection: Connection, webhook_id: str) -> None:
    connection.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.webhook_id == webhook_id,
            webhook_deliveries.c.state == DeliveryState.PENDING.value,
        )
        .values(state=DeliveryState.ABANDONED.value, next_attempt_at=None)
    )


def webhook_deliveries_page(
    connection: Connection, webhook_id: str, after: Position | None, limit: int
) -> list[Delivery]:
    query = _newest_first(webhook_deliveries, [webhook_deliveries.c.webhook_id == webhook_id], after, limit)
    return [_delivery(row) for row in connection.execute(query)]


def attempts_of(connection: Connection, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
    """The attempts of each delivery, first first."""
    found: dict[str, list[Attempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    query = (
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.number)
    )
    for row in connection.execute(query):
        mapping = row._mapping
        found[mapping["delivery_id"]].append(
            Attempt(mapping["at"], mapping["status_code"], mapping["error"], mapping["duration_ms"])
        )
    return found


# --- Sending ----------------------------------------------------------------------


def lease_due(connection: Connection, now: datetime, until: datetime, limit: int) -> list[DueDelivery]:
    """Up to `limit` pending deliveries due at `now` of subscriptions that deliver, oldest
    due first, leased until `until`: their next attempt is put off to then, so that no
    other notifier takes them meanwhile, and a notifier that dies holding them gives them
    back when the lease ends. Rows another notifier is leasing at this moment are skipped
    (PostgreSQL; SQLite serialises writers and ignores the clause)."""
    query = (
        select(webhook_deliveries, webhooks.c.url, webhooks.c.secret)
        .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
        .where(
            webhook_deliveries.c.state == DeliveryState.PENDING.value,
            webhook_deliveries.c.next_attempt_at <= now,
            webhooks.c.enabled.is_(True),
            webhooks.c.deleted.is_(False),
        )
        .order_by(webhook_deliveries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=webhook_deliveries, skip_locked=True)
    )
    due = [DueDelivery(_delivery(row), row.url, row.secret) for row in connection.execute(query)]
    if due:
        leased = [item.delivery.id for item in due]
        connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(leased))
            .values(next_attempt_at=until)
        )
    return due


def lock_delivery(connection: Connection, delivery_id: str) -> Delivery:
    row = connection.execute(
        select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).with_for_update()
    ).one()
    return _delivery(row)


def add_attempt(connection: Connection, delivery: Delivery, attempt: Attempt) -> None:
    """Records `attempt` as the delivery's next, and counts it."""
    number = delivery.attempts + 1
    connection.execute(
        insert(webhook_attempts).values(delivery_id=delivery.id, number=number, **vars(attempt))
    )
    connection.execute(
        update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id).values(attempts=number)
    )


def set_delivery_state(
    connection: Connection, delivery_id: str, state: DeliveryState, next_attempt_at: datetime | None
) -> None:
    connection.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(state=state.value, next_attempt_at=next_attempt_at)
    )
