"""RabbitMQ topology and event publishing with publisher confirms.

Every event goes to one durable topic exchange, routed by its type
(`device.registered`). Each consumer owns a durable quorum queue bound to the
types it handles; an event that fails `DELIVERY_LIMIT` times is dead-lettered
to `<namespace>.dead-letter` instead of looping. A work queue, sent to directly,
has no such limit. All names start with the bus
namespace (`GANTRY_BUS_NAMESPACE`, default `gantry`), so that several
installations, or test runs, can share one broker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, ConnectionBlockedTimeout

from services.kit import metrics, settings
from services.kit.confirms import Confirms, Publication, Ticket, Waiting
from services.kit.consumers import ConsumerQueue
from services.kit.logs import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

DELIVERY_LIMIT = 5
# How long a publisher waits while the broker blocks it (a memory or disk alarm), and
# for its turn behind a publication held up so: both together stay within the gateway's
# 5 s deadline, so ingest answers that nothing was accepted rather than that it may have been.
BLOCKED_SECONDS = 2.0
QUORUM = {"x-queue-type": "quorum"}
# Where the publisher's probe goes: no queue has this name, so the broker returns it.
PROBE_ROUTING_KEY = "no-queue.publisher-probe"
# The fan-out exchanges: `readings` takes each accepted batch of readings once, for every
# queue bound to it (telemetry-writer's; analytics').
READINGS = "readings"
FAN_OUTS = (READINGS,)
# The most work messages published together, waiting once for the broker's confirms.
MAX_LOT = 256

T = TypeVar("T")


@dataclass(frozen=True)
class Topology:
    """The names of the exchanges and queues of one installation."""

    namespace: str

    @classmethod
    def from_env(cls) -> Topology:
        return cls(settings.bus_namespace())

    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dead-letter"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.dead-letter"

    def queue(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def exchange(self, name: str) -> str:
        """A fan-out exchange: each message it takes goes to every queue bound to it."""
        return f"{self.namespace}.{name}"

    def consumer_queue_arguments(
        self, event_types: Sequence[str], single_active: bool = False
    ) -> dict[str, Any]:
        """The arguments of a queue of events, or, without `event_types`, of a work queue.

        Both dead-letter what their consumer rejects. An event that keeps failing is
        dead-lettered after `DELIVERY_LIMIT` deliveries; a work queue has no limit, because
        its messages (accepted readings) come back only when their consumer died or could
        not store them yet, which says nothing about the message. (RabbitMQ 4 sets a
        default limit of 20: give such a queue the policy `delivery-limit: -1` there.)
        """
        arguments = {**QUORUM, "x-dead-letter-exchange": self.dead_letter_exchange}
        if event_types:
            arguments["x-delivery-limit"] = DELIVERY_LIMIT
        if single_active:
            arguments["x-single-active-consumer"] = True
        return arguments

    def declare_consumer_queue(self, channel: BlockingChannel, consumer: ConsumerQueue) -> None:
        """Declares a consumer's queue, bound to the events it handles, or, for a work
        queue, to the fan-out exchange that feeds it; safe to repeat."""
        queue = self.queue(consumer.name)
        arguments = self.consumer_queue_arguments(consumer.event_types, consumer.single_active)
        channel.queue_declare(queue, durable=True, arguments=arguments)
        for event_type in consumer.event_types:
            channel.queue_bind(queue, self.events_exchange, event_type)
        if consumer.fed_by:
            channel.queue_bind(queue, self.exchange(consumer.fed_by))

    def declare(self, channel: BlockingChannel) -> None:
        """Declares the exchanges and the dead-letter queue; safe to repeat."""
        channel.exchange_declare(self.events_exchange, exchange_type="topic", durable=True)
        for name in FAN_OUTS:
            channel.exchange_declare(self.exchange(name), exchange_type="fanout", durable=True)
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="fanout", durable=True)
        channel.queue_declare(self.dead_letter_queue, durable=True, arguments=QUORUM)
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange)


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    type: str
    body: dict[str, Any]
    request_id: str


@dataclass(frozen=True)
class WorkMessage:
    """A message for the work queues bound to one fan-out exchange (`FAN_OUTS`)."""

    exchange: str
    id: str
    body: bytes
    request_id: str


class PublishError(Exception):
    """The broker did not confirm a message."""


Publish = Callable[[Sequence[OutgoingMessage]], None]


class ConfirmingPublisher:
    """Publishes persistent messages over one pika connection, returning once the broker
    has taken responsibility for them.

    Work messages go on a channel in confirm mode; those that callers send at the same
    time go as one lot whose confirms are awaited together (see `services/kit/confirms.py`).
    Events go on a second channel in transaction mode, all of one call committed at once:
    the broker answers the commit once every queue has them, as a confirm would, but for
    the lot in one round trip instead of one per event (measured: 8,000 events/s into a
    quorum queue against 1,300 confirmed one by one).

    Safe to share between the threads of a gRPC server: publications are serialised.
    `confirming` says whether the broker took the last attempt, a publication or a
    `check`; `on_failure` is called as soon as one fails, for whoever watches.
    """

    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self._parameters = pika.URLParameters(amqp_url)
        if self._parameters.blocked_connection_timeout is None:
            # A broker short of memory or disk blocks publishers without a word: fail
            # the publication rather than hold every caller behind the lock forever.
            self._parameters.blocked_connection_timeout = BLOCKED_SECONDS
        self._topology = topology
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._confirms: Confirms
        self._waiting = Waiting()
        self._events_channel: BlockingChannel | None = None
        self.confirming = True
        self.on_failure: Callable[[], None] = lambda: None

    def __call__(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publishes events to the events exchange."""
        self._confirmed(self._publish_events, messages)
        for message in messages:
            metrics.EVENTS_PUBLISHED.labels(message.type).inc()

    def send(self, message: WorkMessage) -> None:
        """Puts a message on the work queues its exchange feeds; PublishError unless they
        took it."""
        self.send_all([message])

    def send_all(self, messages: Sequence[WorkMessage]) -> None:
        """Puts messages on the work queues their exchanges feed; PublishError unless they
        took every one. Messages sent from several threads at once share one wait for the
        broker: whichever caller publishes next takes every message waiting."""
        tickets = [Ticket(self._work_publication(message)) for message in messages]
        self._waiting.add(tickets)
        if not self._lock.acquire(timeout=BLOCKED_SECONDS):
            if self._waiting.withdraw(tickets):
                raise PublishError("the broker is holding publications up")
            # Another caller took some: see the rest through once it is done, within its
            # own bounded wait.
            self._lock.acquire()
        try:
            while not all(ticket.settled.is_set() for ticket in tickets):
                self._publish_waiting()
        finally:
            self._lock.release()
        for ticket in tickets:
            if ticket.error is not None:
                raise PublishError(str(ticket.error)) from ticket.error
            if not ticket.taken:
                raise PublishError("no queue took the message")

    def check(self, queue: str) -> bool:
        """Whether the broker takes messages for the work queue `queue` now: asks whether
        the queue exists, and publishes a probe, on the channel publications use. Cheap
        enough to call every few seconds, which also keeps the connection's heartbeats
        going while nothing is published."""
        with contextlib.suppress(PublishError):
            self._confirmed(self._probe, queue)
        return self.confirming

    def _publish_waiting(self) -> None:
        tickets = self._waiting.take(MAX_LOT)
        metrics.WORK_LOTS.observe(len(tickets))
        try:
            outcomes = self._retried(self._publish_work, [t.publication for t in tickets])
        except Exception as error:
            # Every caller waiting on these is told, whatever went wrong.
            for ticket in tickets:
                ticket.settle(None, error)
            if not isinstance(error, PublishError):
                raise
            self._failed()
            return
        for ticket, taken in zip(tickets, outcomes, strict=True):
            ticket.settle(taken)
        # A message no queue took says the queues it was for are gone.
        if all(outcomes):
            self.confirming = True
        else:
            self._failed()

    def _failed(self) -> None:
        self.confirming = False
        self.on_failure()

    def _confirmed(self, attempt: Callable[[Any], None], what: Any) -> None:
        # Callers queued behind a publication the broker holds up fail rather than wait
        # past their own deadlines.
        if not self._lock.acquire(timeout=BLOCKED_SECONDS):
            raise PublishError("the broker is holding publications up")
        try:
            self._retried(attempt, what)
        except PublishError:
            self._failed()
            raise
        finally:
            self._lock.release()
        self.confirming = True

    def _retried(self, attempt: Callable[[Any], T], what: Any) -> T:
        try:
            return attempt(what)
        except ConnectionBlockedTimeout as error:
            # The broker blocks every publishing connection alike: another is no better.
            self._reset()
            raise PublishError("the broker blocks publications (a memory or disk alarm)") from error
        except AMQPError:
            # A connection idle past its heartbeat is closed by the broker; one
            # fresh connection is worth a try before reporting failure.
            self._reset()
            try:
                return attempt(what)
            except AMQPError as error:
                self._reset()
                raise PublishError(str(error)) from error

    def _probe(self, queue: str) -> None:
        channel = self._open_channel()
        # Refused (and the channel closed) when the queue does not exist.
        channel.queue_declare(self._topology.queue(queue), passive=True)
        # A broker short of memory or disk still answers a declaration but holds every
        # publication: a probe no queue takes is returned and confirmed at once, unless it
        # is held up so (ConnectionBlockedTimeout).
        probe = pika.BasicProperties(message_id=PROBE_ROUTING_KEY)
        self._confirms.publish([Publication("", self._topology.queue(PROBE_ROUTING_KEY), b"", probe)])

    def _publish_events(self, messages: Sequence[OutgoingMessage]) -> None:
        channel = self._open_events_channel()
        for message in messages:
            # The blocking channel flushes its socket after every message; the channel
            # under it only buffers, and the commit below sends the lot at once.
            channel._impl.basic_publish(
                self._topology.events_exchange,
                routing_key=message.type,
                body=orjson.dumps(message.body),
                properties=_persistent(message.id, message.request_id),
            )
        channel.tx_commit()

    def _work_publication(self, message: WorkMessage) -> Publication:
        # Mandatory: a message no queue takes comes back as an error, not a silent loss.
        # The broker confirms it once every queue bound to the exchange has it.
        properties = _persistent(message.id, message.request_id)
        return Publication(self._topology.exchange(message.exchange), "", message.body, properties)

    def _publish_work(self, publications: list[Publication]) -> list[bool]:
        self._open_channel()
        return self._confirms.publish(publications)

    def _open_channel(self) -> BlockingChannel:
        if self._channel is None or not self._channel.is_open:
            self._reset()
            self._connection = pika.BlockingConnection(self._parameters)
            self._channel = self._connection.channel()
            self._topology.declare(self._channel)
            self._confirms = Confirms(self._channel)
        return self._channel

    def _open_events_channel(self) -> BlockingChannel:
        channel = self._open_channel()
        if self._events_channel is None or not self._events_channel.is_open:
            self._events_channel = channel.connection.channel()
            self._events_channel.tx_select()
        return self._events_channel

    def _reset(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(AMQPError):
                self._connection.close()
        self._connection = self._channel = self._events_channel = None

    def close(self) -> None:
        with self._lock:
            self._reset()


def _persistent(message_id: str, request_id: str) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message_id,
        headers={REQUEST_ID_HEADER: request_id},
    )
