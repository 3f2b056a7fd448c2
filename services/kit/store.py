"""A service's database as its processes use it: units of work whose events reach the bus."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from sqlalchemy import MetaData

from services.kit import settings
from services.kit.bus import OutgoingMessage, Publish
from services.kit.db import UnitOfWork, make_engine
from services.kit.outbox import OutboxRelay

log = logging.getLogger(__name__)

STOP_SECONDS = 10.0
# Events published together at most: one statement marks them all published.
RELAY_BATCH = 1000


class Store:
    def __init__(
        self,
        service: str,
        metadata: MetaData,
        publish: Publish,
        url: str | None = None,
        publish_in_background: bool = False,
        custom_plans: bool = False,
    ) -> None:
        url = url or settings.database_url(service)
        self.engine = make_engine(url, custom_plans=custom_plans)
        # A lone query needs no transaction: the hottest reads skip BEGIN and ROLLBACK.
        self.reader = make_engine(url, autocommit=True, custom_plans=custom_plans)
        self.metadata = metadata
        self.relay = OutboxRelay(self.engine, metadata, publish)
        self._background = BackgroundRelay(self.relay) if publish_in_background else None

    def unit_of_work(self, read_only: bool = False) -> UnitOfWork:
        """A transaction whose events are published as soon as it commits (by a thread of
        the store's own, if it publishes in the background); or, read-only, a connection
        for queries alone."""
        engine = self.reader if read_only else self.engine
        after_commit = self._background.publish_now if self._background else self.relay.publish_now
        return UnitOfWork(engine, self.metadata, after_commit=after_commit, read_only=read_only)

    def close(self) -> None:
        if self._background is not None:
            self._background.close()
        self.engine.dispose()
        self.reader.dispose()


class BackgroundRelay:
    """Publishes just-committed events on a thread of its own, so that a process committing
    events at a high rate (analytics-evaluator) never waits for the broker's confirms.
    Events it could not publish, or that a crash left behind, stay in the outbox for the
    worker's relay: every event is still published at least once."""

    def __init__(self, relay: OutboxRelay) -> None:
        self._relay = relay
        self._pending: queue.SimpleQueue[list[OutgoingMessage] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def publish_now(self, messages: Sequence[OutgoingMessage]) -> None:
        if messages:
            self._pending.put(list(messages))

    def close(self) -> None:
        self._pending.put(None)
        self._thread.join(STOP_SECONDS)

    def _run(self) -> None:
        while True:
            messages = self._pending.get()
            if messages is None:
                return
            stopping = False
            # Whatever else committed meanwhile goes in the same publication.
            while not self._pending.empty():
                more = self._pending.get()
                if more is None:
                    stopping = True
                    break
                messages += more
            for start in range(0, len(messages), RELAY_BATCH):
                try:
                    self._relay.publish_now(messages[start : start + RELAY_BATCH])
                except Exception:
                    log.warning("events left in the outbox for the relay", exc_info=True)
            if stopping:
                return
