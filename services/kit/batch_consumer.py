"""A process consuming accepted batches of readings from its queue on the readings exchange
(telemetry-writer stores them, analytics-evaluator evaluates alarm rules on them).

A plain pika consumer, no nameko: a flush handles tens of thousands of readings, and
nameko's per-message machinery and eventlet's blocking of psycopg would cost more than
the work. Batches are gathered and handled together, and acknowledged only once handled.
While the database fails, the consumer keeps its messages and retries, however long that
takes; if it dies, the broker delivers them again, and the handler must give a batch
handled twice no second effect. A work queue has no delivery limit, so no number of
restarts dead-letters a batch: only one that is no batch, or whose data the database
refuses, goes to the dead-letter queue.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

import pika
from pika import BasicProperties
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import MetaData

from services.kit import logs, metrics, settings
from services.kit.batches import AcceptedBatch, MalformedBatch
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.consumers import ConsumerQueue
from services.kit.faults import backoff, is_transient, refuses_data
from services.kit.store import Store

log = logging.getLogger(__name__)

# A batch delivered this often is worth an error in the log: something keeps killing
# the consumer that holds it.
OFTEN_REDELIVERED = 5
# Objects allocated, then collections of each generation, before the next generation's.
GC_THRESHOLDS = (100_000, 50, 100)
# How long the consumer waits for a message before treating the queue as idle, and
# flushing what it holds: under a light load every message waits this long at least.
IDLE_SECONDS = 0.01


@dataclass(frozen=True)
class BatchSettings:
    # Readings gathered before a flush: large enough to amortise a transaction,
    # small enough to keep the latency of each reading low.
    flush_readings: int = 20_000
    # The longest a received reading waits for its flush while the consumer keeps up.
    flush_seconds: float = 0.2
    prefetch: int = 200


@dataclass(frozen=True)
class ConsumerMetrics:
    """The figures of one consumer process, named after its service and what it does
    with readings (`gantry_telemetry_readings_stored_total`)."""

    handled: Counter
    flush_seconds: Histogram
    pending: Gauge
    failing_seconds: Gauge
    redelivered: Counter
    dead_lettered: Counter

    @classmethod
    def named(cls, service: str, done: str) -> ConsumerMetrics:
        prefix = f"gantry_{service}"
        return cls(
            Counter(f"{prefix}_readings_{done}_total", f"Readings {done} and committed"),
            Histogram(f"{prefix}_flush_seconds", "Duration of one flush"),
            Gauge(f"{prefix}_pending_readings", "Readings received, not yet committed"),
            Gauge(
                f"{prefix}_flush_failing_seconds",
                "How long the database has been failing the pending flush (0 while flushes succeed)",
            ),
            Counter(
                f"{prefix}_batches_redelivered_total", "Batches received again after an earlier delivery"
            ),
            Counter(f"{prefix}_batches_dead_lettered_total", "Batches no consumer can handle", ["reason"]),
        )


@dataclass(frozen=True)
class Delivery:
    tag: int
    batch: AcceptedBatch


@dataclass
class Pending:
    """Batches received and not yet handled."""

    deliveries: list[Delivery] = field(default_factory=list)
    readings: int = 0
    since: float = 0.0

    def add(self, delivery: Delivery) -> None:
        if not self.deliveries:
            self.since = time.monotonic()
        self.deliveries.append(delivery)
        self.readings += delivery.batch.reading_count()

    @property
    def batches(self) -> list[AcceptedBatch]:
        return [delivery.batch for delivery in self.deliveries]


class BatchConsumer:
    """Consumes `queue`, passing gathered batches to `handle` in one call, which commits
    them or raises. Between flushes, with nothing pending, it calls `housekeeping`."""

    def __init__(
        self,
        queue: ConsumerQueue,
        topology: Topology,
        config: BatchSettings,
        handle: Callable[[Sequence[AcceptedBatch]], None],
        metrics: ConsumerMetrics,
        housekeeping: Callable[[], None] = lambda: None,
    ) -> None:
        self.queue = queue
        self._topology = topology
        self._config = config
        self._handle = handle
        self._metrics = metrics
        self._housekeeping = housekeeping
        self._stopping = threading.Event()

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
                # handled already, and then have no second effect when delivered again.
                log.warning("broker connection lost; reconnecting", extra={"error": repr(error)})
                self._stopping.wait(backoff(failures))
                failures += 1

    def run(self, amqp_url: str) -> None:
        """Consumes until `stop`; leaves unhandled messages to the broker."""
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            self._topology.declare(channel)
            self._topology.declare_consumer_queue(channel, self.queue)
            channel.basic_qos(prefetch_count=self._config.prefetch)
            self._consume(channel)
        finally:
            if connection.is_open:
                connection.close()

    def _consume(self, channel: BlockingChannel) -> None:
        pending = Pending()
        queue = self._topology.queue(self.queue.name)
        for method, properties, body in channel.consume(queue, inactivity_timeout=IDLE_SECONDS):
            if method is not None:
                self._receive(channel, pending, method.delivery_tag, properties, body)
            if pending.deliveries and self._due(channel, pending, idle=method is None):
                self._flush(channel, pending)
                pending = Pending()
            if self._stopping.is_set():
                break
            if not pending.deliveries:
                self._housekeeping()
        channel.cancel()

    def _receive(
        self, channel: BlockingChannel, pending: Pending, tag: int, properties: BasicProperties, body: bytes
    ) -> None:
        # Quorum queues count every earlier delivery of a message in this header.
        deliveries = (properties.headers or {}).get("x-delivery-count", 0)
        if deliveries:
            self._metrics.redelivered.inc()
            if deliveries >= OFTEN_REDELIVERED:
                log.error("batch delivered again and again", extra={"deliveries": deliveries + 1})
        try:
            pending.add(Delivery(tag, AcceptedBatch.decode(body)))
            self._metrics.pending.set(pending.readings)
        except MalformedBatch as error:
            self._dead_letter(channel, tag, "malformed", str(error))

    def _due(self, channel: BlockingChannel, pending: Pending, idle: bool) -> bool:
        config = self._config
        if idle or pending.readings >= config.flush_readings or len(pending.deliveries) >= config.prefetch:
            return True
        # The time limit keeps readings from waiting while the consumer keeps up. Behind,
        # with messages already waiting, a flush now would only make them wait for one
        # more: a larger flush, whose fixed costs weigh less per reading, drains them sooner.
        return (
            time.monotonic() - pending.since >= config.flush_seconds
            and not channel.get_waiting_message_count()
        )

    def _flush(self, channel: BlockingChannel, pending: Pending) -> None:
        """Handles the pending batches and acknowledges them all at once. When the database
        refuses the data of the lot, handles them one by one and dead-letters only those it
        refuses alone."""
        if self._handled(channel, pending.batches):
            channel.basic_ack(pending.deliveries[-1].tag, multiple=True)
            self._metrics.handled.inc(pending.readings)
        else:
            for delivery in pending.deliveries:
                if self._handled(channel, [delivery.batch]):
                    channel.basic_ack(delivery.tag)
                    self._metrics.handled.inc(delivery.batch.reading_count())
                else:
                    self._dead_letter(channel, delivery.tag, "refused", "the database refuses its readings")
        self._metrics.pending.set(0)

    def _handled(self, channel: BlockingChannel, batches: list[AcceptedBatch]) -> bool:
        """Handles `batches`, retrying for as long as the database fails for reasons of its
        own (the broker keeps the messages meanwhile); False if it refuses their data.
        Any other error is a defect: it ends the process and the broker delivers again."""
        attempt = 0
        failing_since = time.monotonic()
        while True:
            try:
                with self._metrics.flush_seconds.time():
                    self._handle(batches)
                self._metrics.failing_seconds.set(0)
                return True
            except Exception as error:
                if refuses_data(error):
                    log.warning("readings refused by the database", extra={"error": str(error)})
                    return False
                if not is_transient(error) or self._stopping.is_set():
                    raise
                log.warning("flush failed; retrying", extra={"attempt": attempt, "error": str(error)})
                self._metrics.failing_seconds.set(time.monotonic() - failing_since)
                # Sleeping through the connection keeps its heartbeats going.
                channel.connection.sleep(backoff(attempt))
                attempt += 1

    def _dead_letter(self, channel: BlockingChannel, tag: int, reason: str, detail: str) -> None:
        log.error("batch dead-lettered", extra={"reason": reason, "error": detail})
        self._metrics.dead_lettered.labels(reason).inc()
        channel.basic_nack(tag, requeue=False)


def serve(
    process: str,
    service: str,
    metadata: MetaData,
    build: Callable[[Store, Topology], BatchConsumer],
    publish_in_background: bool = False,
    custom_plans: bool = False,
) -> None:
    """Runs the consumer process `process` of `service` (`telemetry-writer`) until SIGTERM
    or SIGINT: its logs and metrics, its store and event publisher (publishing on a thread
    of its own with `publish_in_background`; planning each statement anew with
    `custom_plans`, see `db.make_engine`), and the consumer `build` makes of them."""
    logs.configure(process)
    metrics.serve(process)
    topology = Topology.from_env()
    publisher = ConfirmingPublisher(settings.amqp_url(), topology)
    store = Store(
        service, metadata, publisher, publish_in_background=publish_in_background, custom_plans=custom_plans
    )
    consumer = build(store, topology)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        consumer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _tune_garbage_collection()
    log.info("consuming", extra={"queue": topology.queue(consumer.queue.name)})
    try:
        consumer.run_until_stopped(settings.amqp_url())
    finally:
        publisher.close()
        store.close()


def _tune_garbage_collection() -> None:
    """A flush decodes and drops millions of small objects, nearly all freed by their
    reference counts; the collector's default thresholds would scan the live ones (the
    process's modules, the states it holds) again and again meanwhile. Measured in process
    on the evaluator's workload: a fifth less CPU per reading."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
