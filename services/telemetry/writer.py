"""Runs telemetry's `-writer` process: python -m services.telemetry.writer

It consumes accepted batches from `<namespace>.telemetry.readings` and stores them
in bulk, acknowledging each message only after the transaction holding its
readings has committed. A process of its own (pika, no nameko): a flush moves tens
of thousands of readings, and nameko's per-message machinery and eventlet's
blocking of psycopg would cost more than the work. While the database is down it
keeps its messages and retries, however long that takes; if it dies, the broker
delivers them again and duplicates are stored once. The readings queue has no
delivery limit, so no number of restarts dead-letters a batch: only one that is
no batch, or whose data the database refuses, goes to the dead-letter queue.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

import pika
from pika import BasicProperties
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from prometheus_client import Counter, Gauge, Histogram

from services.kit import logs, metrics, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.faults import backoff, is_transient, refuses_data
from services.kit.store import Store
from services.telemetry.batches import AcceptedBatch, MalformedBatch
from services.telemetry.bus import READINGS
from services.telemetry.settings import WriterSettings
from services.telemetry.storage import metadata
from services.telemetry.usecases import retention
from services.telemetry.usecases.bulk import BulkWriter

log = logging.getLogger(__name__)

READINGS_STORED = Counter("gantry_telemetry_readings_stored_total", "Readings committed by the writer")
FLUSH_SECONDS = Histogram("gantry_telemetry_flush_seconds", "Duration of one bulk write")
PENDING_READINGS = Gauge("gantry_telemetry_pending_readings", "Readings received, not yet committed")
FLUSH_FAILING_SECONDS = Gauge(
    "gantry_telemetry_flush_failing_seconds",
    "How long the database has been failing the pending write (0 while writes succeed)",
)
BATCHES_REDELIVERED = Counter(
    "gantry_telemetry_batches_redelivered_total", "Batches received again after an earlier delivery"
)
BATCHES_DEAD_LETTERED = Counter(
    "gantry_telemetry_batches_dead_lettered_total", "Batches no writer can store", ["reason"]
)

EXPIRY_SECONDS = 3600
# After a failed expiry, the next try comes sooner than the next hour.
EXPIRY_RETRY_SECONDS = 30
# A batch delivered this often is worth an error in the log: something keeps killing
# the writer that holds it.
OFTEN_REDELIVERED = 5


@dataclass(frozen=True)
class Delivery:
    tag: int
    batch: AcceptedBatch


@dataclass
class Pending:
    """Batches received and not yet stored."""

    deliveries: list[Delivery] = field(default_factory=list)
    readings: int = 0
    since: float = 0.0

    def add(self, delivery: Delivery) -> None:
        if not self.deliveries:
            self.since = time.monotonic()
        self.deliveries.append(delivery)
        self.readings += delivery.batch.reading_count()
        PENDING_READINGS.set(self.readings)

    @property
    def batches(self) -> list[AcceptedBatch]:
        return [delivery.batch for delivery in self.deliveries]


class Writer:
    def __init__(self, store: Store, topology: Topology, config: WriterSettings) -> None:
        self._bulk = BulkWriter(store)
        self._store = store
        self._topology = topology
        self._config = config
        self._stopping = threading.Event()
        self._next_expiry = 0.0

    def stop(self) -> None:
        self._stopping.set()

    def run_until_stopped(self, amqp_url: str) -> None:
        """Consumes until `stop`, reconnecting to the broker after a failure."""
        failures = 0
        while not self._stopping.is_set():
            try:
                self.run(amqp_url)
                failures = 0
            except AMQPError as error:
                # Unacknowledged messages go back to the queue; their readings may be
                # stored already, and are then skipped when delivered again.
                log.warning("broker connection lost; reconnecting", extra={"error": repr(error)})
                self._stopping.wait(backoff(failures))
                failures += 1

    def run(self, amqp_url: str) -> None:
        """Consumes until `stop`; leaves unstored messages to the broker."""
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            self._topology.declare(channel)
            self._topology.declare_consumer_queue(channel, READINGS)
            channel.basic_qos(prefetch_count=self._config.prefetch)
            self._consume(channel)
        finally:
            if connection.is_open:
                connection.close()

    def _consume(self, channel: BlockingChannel) -> None:
        pending = Pending()
        queue = self._topology.queue(READINGS.name)
        for method, properties, body in channel.consume(queue, inactivity_timeout=0.05):
            if method is not None:
                self._receive(channel, pending, method.delivery_tag, properties, body)
            if pending.deliveries and self._due(pending, idle=method is None):
                self._flush(channel, pending)
                pending = Pending()
            if self._stopping.is_set():
                break
            if method is None:
                self._expire_when_due()
        channel.cancel()

    def _receive(
        self, channel: BlockingChannel, pending: Pending, tag: int, properties: BasicProperties, body: bytes
    ) -> None:
        # Quorum queues count every earlier delivery of a message in this header.
        deliveries = (properties.headers or {}).get("x-delivery-count", 0)
        if deliveries:
            BATCHES_REDELIVERED.inc()
            if deliveries >= OFTEN_REDELIVERED:
                log.error("batch delivered again and again", extra={"deliveries": deliveries + 1})
        try:
            pending.add(Delivery(tag, AcceptedBatch.decode(body)))
        except MalformedBatch as error:
            self._dead_letter(channel, tag, "malformed", str(error))

    def _due(self, pending: Pending, idle: bool) -> bool:
        config = self._config
        return (
            idle
            or pending.readings >= config.flush_readings
            or len(pending.deliveries) >= config.prefetch
            or time.monotonic() - pending.since >= config.flush_seconds
        )

    def _flush(self, channel: BlockingChannel, pending: Pending) -> None:
        """Stores the pending batches and acknowledges them all at once. When the database
        refuses the data of the lot, stores them one by one and dead-letters only those it
        refuses alone."""
        if self._stored(channel, pending.batches):
            channel.basic_ack(pending.deliveries[-1].tag, multiple=True)
            READINGS_STORED.inc(pending.readings)
        else:
            for delivery in pending.deliveries:
                if self._stored(channel, [delivery.batch]):
                    channel.basic_ack(delivery.tag)
                    READINGS_STORED.inc(delivery.batch.reading_count())
                else:
                    self._dead_letter(channel, delivery.tag, "refused", "the database refuses its readings")
        PENDING_READINGS.set(0)

    def _stored(self, channel: BlockingChannel, batches: list[AcceptedBatch]) -> bool:
        """Stores `batches`, retrying for as long as the database fails for reasons of its
        own (the broker keeps the messages meanwhile); False if it refuses their data.
        Any other error is a defect: it ends the process and the broker delivers again."""
        attempt = 0
        failing_since = time.monotonic()
        while True:
            try:
                with FLUSH_SECONDS.time():
                    self._bulk.store(batches)
                FLUSH_FAILING_SECONDS.set(0)
                return True
            except Exception as error:
                if refuses_data(error):
                    log.warning("readings refused by the database", extra={"error": str(error)})
                    return False
                if not is_transient(error) or self._stopping.is_set():
                    raise
                log.warning("bulk write failed; retrying", extra={"attempt": attempt, "error": str(error)})
                FLUSH_FAILING_SECONDS.set(time.monotonic() - failing_since)
                # Sleeping through the connection keeps its heartbeats going.
                channel.connection.sleep(backoff(attempt))
                attempt += 1

    def _dead_letter(self, channel: BlockingChannel, tag: int, reason: str, detail: str) -> None:
        log.error("batch dead-lettered", extra={"reason": reason, "error": detail})
        BATCHES_DEAD_LETTERED.labels(reason).inc()
        channel.basic_nack(tag, requeue=False)

    def _expire_when_due(self) -> None:
        """Drops expired partitions hourly; while the database fails, tries again sooner
        instead of ending the process."""
        if time.monotonic() < self._next_expiry:
            return
        try:
            removed = retention.expire(self._store.unit_of_work, datetime.now(UTC))
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("expiry failed; will retry", extra={"error": str(error)})
            self._next_expiry = time.monotonic() + EXPIRY_RETRY_SECONDS
            return
        self._next_expiry = time.monotonic() + EXPIRY_SECONDS
        if removed:
            log.info("expired readings removed", extra={"removed": removed})


def main() -> None:
    logs.configure("telemetry-writer")
    metrics.serve("telemetry-writer")
    topology = Topology.from_env()
    publisher = ConfirmingPublisher(settings.amqp_url(), topology)
    store = Store("telemetry", metadata, publisher)
    writer = Writer(store, topology, WriterSettings.from_env())

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        writer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("writing", extra={"queue": topology.queue(READINGS.name)})
    try:
        writer.run_until_stopped(settings.amqp_url())
    finally:
        publisher.close()
        store.close()


if __name__ == "__main__":
    main()
