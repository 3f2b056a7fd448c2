"""Runs telemetry's `-writer` process: python -m services.telemetry.writer

It consumes accepted batches from `<namespace>.telemetry.readings` and stores them in
bulk (see `services/kit/batch_consumer.py`), acknowledging each message only after the
transaction holding its readings has committed; duplicates are stored once. Between
writes it drops expired partitions hourly.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import UTC, datetime
from types import FrameType

from services.kit import logs, metrics, settings
from services.kit.batch_consumer import BatchConsumer, ConsumerMetrics
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.faults import is_transient
from services.kit.store import Store
from services.telemetry.bus import READINGS
from services.telemetry.settings import WriterSettings
from services.telemetry.storage import metadata
from services.telemetry.usecases import retention
from services.telemetry.usecases.bulk import BulkWriter

log = logging.getLogger(__name__)

METRICS = ConsumerMetrics.named("telemetry", "stored")
EXPIRY_SECONDS = 3600
# After a failed expiry, the next try comes sooner than the next hour.
EXPIRY_RETRY_SECONDS = 30


class Expiry:
    """Drops expired partitions hourly; while the database fails, tries again sooner
    instead of ending the process."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._next = 0.0

    def when_due(self) -> None:
        if time.monotonic() < self._next:
            return
        try:
            removed = retention.expire(self._store.unit_of_work, datetime.now(UTC))
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("expiry failed; will retry", extra={"error": str(error)})
            self._next = time.monotonic() + EXPIRY_RETRY_SECONDS
            return
        self._next = time.monotonic() + EXPIRY_SECONDS
        if removed:
            log.info("expired readings removed", extra={"removed": removed})


def writer(store: Store, topology: Topology, config: WriterSettings) -> BatchConsumer:
    bulk = BulkWriter(store)
    return BatchConsumer(READINGS, topology, config, bulk.store, METRICS, Expiry(store).when_due)


def main() -> None:
    logs.configure("telemetry-writer")
    metrics.serve("telemetry-writer")
    topology = Topology.from_env()
    publisher = ConfirmingPublisher(settings.amqp_url(), topology)
    store = Store("telemetry", metadata, publisher)
    consumer = writer(store, topology, WriterSettings.from_env())

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        consumer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("writing", extra={"queue": topology.queue(READINGS.name)})
    try:
        consumer.run_until_stopped(settings.amqp_url())
    finally:
        publisher.close()
        store.close()


if __name__ == "__main__":
    main()
