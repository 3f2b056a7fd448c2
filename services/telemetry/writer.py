"""Runs telemetry's `-writer` process: python -m services.telemetry.writer

It consumes accepted batches from `<namespace>.telemetry.readings` and stores them in
bulk (see `services/kit/batch_consumer.py`), acknowledging each message only after the
transaction holding its readings has committed; duplicates are stored once. Between
writes it drops expired partitions hourly, and hourly compacts closed days into chunks.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.kit.batch_consumer import BatchConsumer, ConsumerMetrics, serve
from services.kit.bus import Topology
from services.kit.periodic import Periodic
from services.kit.store import Store
from services.telemetry.bus import READINGS
from services.telemetry.settings import WriterSettings
from services.telemetry.storage import metadata
from services.telemetry.usecases import compaction, retention
from services.telemetry.usecases.bulk import BulkWriter

log = logging.getLogger(__name__)

METRICS = ConsumerMetrics.named("telemetry", "stored")
EXPIRY_SECONDS = 3600
# Closed days are looked for as often: a day's partition is compacted within the hour
# after its grace (usecases/compaction.py).
COMPACTION_SECONDS = 3600
# After a failed expiry, the next try comes sooner than the next hour.
EXPIRY_RETRY_SECONDS = 30


def expire(store: Store) -> None:
    removed = retention.expire(store.unit_of_work, datetime.now(UTC))
    if removed:
        log.info("expired readings removed", extra={"removed": removed})


def compact(store: Store) -> None:
    compaction.compact_closed_days(store.unit_of_work, datetime.now(UTC))


def writer(store: Store, topology: Topology, config: WriterSettings) -> BatchConsumer:
    bulk = BulkWriter(store)
    expiry = Periodic("expiry", lambda: expire(store), EXPIRY_SECONDS, EXPIRY_RETRY_SECONDS)
    compacting = Periodic("compaction", lambda: compact(store), COMPACTION_SECONDS, EXPIRY_RETRY_SECONDS)

    def housekeeping() -> None:
        expiry.when_due()
        compacting.when_due()

    return BatchConsumer(READINGS, topology, config, bulk.store, METRICS, housekeeping)


if __name__ == "__main__":
    serve(
        "telemetry-writer",
        "telemetry",
        metadata,
        lambda store, topology: writer(store, topology, WriterSettings.from_env()),
    )
