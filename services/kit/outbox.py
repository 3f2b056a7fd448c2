"""The outbox relay: events a unit of work committed, published at least once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, MetaData, delete, select, update

from services.kit.bulk_rows import one_of
from services.kit.bus import OutgoingMessage, Publish, PublishError
from services.kit.db import pipelined

log = logging.getLogger(__name__)


class OutboxRelay:
    """Moves committed events from a service's outbox table to the bus.

    The API publishes right after its commit; the worker's timer relays whatever
    that missed (broker down, process killed), so an event is published at least
    once. Consumers are idempotent, so a second publication has no effect.
    """

    def __init__(self, engine: Engine, metadata: MetaData, publish: Publish) -> None:
        self._engine = engine
        self._outbox = metadata.tables["outbox"]
        self._processed = metadata.tables["processed_events"]
        self._publish = publish

    def publish_now(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publishes just-committed events, as their unit of work wrote them to the outbox;
        on failure leaves them to the relay."""
        if not messages:
            return
        try:
            self._publish_and_mark(list(messages))
        except PublishError:
            log.warning("events left in the outbox for the relay", exc_info=True)

    def relay_pending(self, min_age: timedelta = timedelta(seconds=5), batch: int = 500) -> int:
        """Publishes every event older than `min_age` still unpublished, `batch` at a time:
        events left to the relay on purpose may come faster than one batch per tick."""
        cutoff = datetime.now(UTC) - min_age
        relayed = 0
        while published := self._publish_where(self._outbox.c.created_at < cutoff, batch):
            relayed += published
            if published < batch:
                break
        return relayed

    def prune(self, keep: timedelta) -> int:
        """Deletes events published longer than `keep` ago, and the record of events
        this service handled that long ago: redeliveries never come that late."""
        cutoff = datetime.now(UTC) - keep
        processed = self._processed
        with self._engine.begin() as connection:
            published = connection.execute(
                delete(self._outbox).where(self._outbox.c.published_at < cutoff)
            ).rowcount
            handled = connection.execute(delete(processed).where(processed.c.processed_at < cutoff)).rowcount
        return published + handled

    def _publish_where(self, condition: Any, limit: int | None = None) -> int:
        table = self._outbox
        query = (
            select(table.c.id, table.c.type, table.c.body, table.c.request_id)
            .where(table.c.published_at.is_(None), condition)
            .order_by(table.c.created_at)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            messages = [OutgoingMessage(*row) for row in connection.execute(query)]
        if messages:
            self._publish_and_mark(messages)
        return len(messages)

    def _publish_and_mark(self, messages: list[OutgoingMessage]) -> None:
        self._publish(messages)
        table = self._outbox
        # Sent at once, the mark costs one round trip, not one per statement.
        with self._engine.connect() as connection, pipelined(connection):
            if connection.dialect.name == "postgresql":
                # A mark lost in a crash only publishes its events again, which consumers
                # take once: it need not wait for the disk.
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            connection.execute(
                update(table)
                .where(one_of(connection, table.c.id, [m.id for m in messages]))
                .values(published_at=datetime.now(UTC))
            )
            connection.commit()
