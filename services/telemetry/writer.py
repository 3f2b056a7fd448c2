"""Runs telemetry's `-writer` process: python -m services.telemetry.writer

It consumes accepted batches from `<namespace>.telemetry.readings` and stores them
in bulk, acknowledging each message only after the transaction holding its
readings has committed. A process of its own (pika, no nameko): a flush moves tens
of thousands of readings, and nameko's per-message machinery and eventlet's
blocking of psycopg would cost more than the work. While the database is down it
keeps its messages and retries; if it dies, the broker delivers them again and
duplicates are stored once.
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
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import DBAPIError

from services.kit import logs, metrics, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.store import Store
from services.telemetry import retention
from services.telemetry.batches import READINGS_QUEUE, AcceptedBatch, MalformedBatch
from services.telemetry.bulk import BulkWriter
from services.telemetry.storage import metadata

log = logging.getLogger(__name__)

READINGS_STORED = Counter("gantry_telemetry_readings_stored_total", "Readings committed by the writer")
FLUSH_SECONDS = Histogram("gantry_telemetry_flush_seconds", "Duration of one bulk write")
PENDING_READINGS = Gauge("gantry_telemetry_pending_readings", "Readings received, not yet committed")

EXPIRY_SECONDS = 3600
RETRY_SECONDS = (0.5, 1, 2, 5, 10)


@dataclass(frozen=True)
class WriterSettings:
    # Readings gathered before a flush: large enough to amortise a transaction,
    # small enough to keep acknowledgement-to-queryable latency low.
    flush_readings: int = 20_000
    # The longest a received reading waits for its flush.
    flush_seconds: float = 0.2
    prefetch: int = 200

    @classmethod
    def from_env(cls) -> WriterSettings:
        return cls(
            flush_readings=int(settings.env("TELEMETRY_FLUSH_READINGS", str(cls.flush_readings))),
            flush_seconds=float(settings.env("TELEMETRY_FLUSH_SECONDS", str(cls.flush_seconds))),
            prefetch=int(settings.env("TELEMETRY_WRITER_PREFETCH", str(cls.prefetch))),
        )


@dataclass
class Pending:
    """Batches received and not yet stored, with the delivery tag of the last one."""

    batches: list[AcceptedBatch] = field(default_factory=list)
    last_tag: int = 0
    readings: int = 0
    since: float = 0.0

    def add(self, tag: int, batch: AcceptedBatch) -> None:
        if not self.batches:
            self.since = time.monotonic()
        self.batches.append(batch)
        self.last_tag = tag
        self.readings += batch.reading_count()
        PENDING_READINGS.set(self.readings)


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
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                log.warning("broker connection lost; reconnecting", extra={"error": repr(error)})
                failures += 1
                self._stopping.wait(delay)

    def run(self, amqp_url: str) -> None:
        """Consumes until `stop`; leaves unstored messages to the broker."""
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            self._topology.declare(channel)
            self._topology.declare_consumer_queue(channel, READINGS_QUEUE, ())
            channel.basic_qos(prefetch_count=self._config.prefetch)
            self._consume(channel)
        finally:
            if connection.is_open:
                connection.close()

    def _consume(self, channel: BlockingChannel) -> None:
        pending = Pending()
        queue = self._topology.queue(READINGS_QUEUE)
        for method, _properties, body in channel.consume(queue, inactivity_timeout=0.05):
            if method is not None:
                try:
                    pending.add(method.delivery_tag, AcceptedBatch.decode(body))
                except MalformedBatch as error:
                    log.error("malformed batch dead-lettered", extra={"error": str(error)})
                    channel.basic_nack(method.delivery_tag, requeue=False)
            if pending.batches and self._due(pending, idle=method is None):
                self._flush(channel, pending)
                pending = Pending()
            if self._stopping.is_set():
                break
            if method is None:
                self._expire_when_due()
        channel.cancel()

    def _due(self, pending: Pending, idle: bool) -> bool:
        config = self._config
        return (
            idle
            or pending.readings >= config.flush_readings
            or len(pending.batches) >= config.prefetch
            or time.monotonic() - pending.since >= config.flush_seconds
        )

    def _flush(self, channel: BlockingChannel, pending: Pending) -> None:
        """Stores the pending batches, retrying for as long as the database refuses (the
        broker keeps the messages meanwhile), then acknowledges them all at once."""
        attempt = 0
        while True:
            try:
                with FLUSH_SECONDS.time():
                    self._bulk.store(pending.batches)
                break
            except DBAPIError as error:
                if self._stopping.is_set():
                    raise
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                log.warning("bulk write failed; retrying", extra={"attempt": attempt, "error": str(error)})
                attempt += 1
                # Sleeping through the connection keeps its heartbeats going.
                channel.connection.sleep(delay)
        channel.basic_ack(pending.last_tag, multiple=True)
        READINGS_STORED.inc(pending.readings)
        PENDING_READINGS.set(0)

    def _expire_when_due(self) -> None:
        if time.monotonic() < self._next_expiry:
            return
        self._next_expiry = time.monotonic() + EXPIRY_SECONDS
        with self._store.engine.begin() as connection:
            removed = retention.expire(connection, datetime.now(UTC))
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
    log.info("writing", extra={"queue": topology.queue(READINGS_QUEUE)})
    try:
        writer.run_until_stopped(settings.amqp_url())
    finally:
        publisher.close()
        store.close()


if __name__ == "__main__":
    main()
