"""nameko adapters of a service's `-worker` process: event consumers, units of work,
the outbox relay, request ids and metrics. Imported only by nameko processes."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import eventlet
from amqp.exceptions import AMQPError
from kombu import Connection, Exchange, Queue, binding
from kombu.message import Message
from nameko.amqp.publish import Publisher as AmqpPublisher
from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer
from nameko.timer import timer
from sqlalchemy import MetaData

from services.kit import bus, logs, metrics
from services.kit.consumers import ConsumerQueue
from services.kit.errors import InvalidArgument
from services.kit.events import Event, parse_event
from services.kit.faults import backoff, is_transient
from services.kit.store import Store

log = logging.getLogger(__name__)

# The key of `WorkerContext.data` counting the runs of an event that failed for a
# transient reason.
RETRY_ATTEMPT = "retry_attempt"

OUTBOX_RELAY_SECONDS = 2
PRUNE_SECONDS = 3600
MESSAGING_RETENTION = timedelta(days=7)


def events_exchange(topology: bus.Topology) -> Exchange:
    return Exchange(topology.events_exchange, type="topic", durable=True)


def dead_letter_queue(topology: bus.Topology) -> Queue:
    exchange = Exchange(topology.dead_letter_exchange, type="fanout", durable=True)
    return Queue(topology.dead_letter_queue, exchange, durable=True, queue_arguments=bus.QUORUM)


def event_queue(topology: bus.Topology, declared: ConsumerQueue) -> Queue:
    """A durable quorum queue of the events it is declared for, dead-lettering poison messages."""
    exchange = events_exchange(topology)
    return Queue(
        topology.queue(declared.name),
        bindings=[binding(exchange, routing_key=event_type) for event_type in declared.event_types],
        durable=True,
        queue_arguments=topology.consumer_queue_arguments(declared.event_types),
    )


class EventHandler(Consumer):
    """Entrypoint receiving validated `Event`s from a queue.

    A message that breaks the event contract is dead-lettered at once. A handler that
    fails because the database or the bus does (`faults.is_transient`) is run again
    after a growing pause, its message held meanwhile, for as long as that lasts: an
    outage never dead-letters an event. A handler that fails otherwise has its message
    redelivered until the queue's delivery limit dead-letters it.
    """

    def __init__(self, declared: ConsumerQueue, **kwargs: Any) -> None:
        super().__init__(queue=None, requeue_on_error=True, **kwargs)
        self.declared = declared
        self.stopping = False

    def setup(self) -> None:
        # Names come from the environment, read when the worker starts, not at import.
        topology = bus.Topology.from_env()
        self.queue = event_queue(topology, self.declared)
        with Connection(self.container.config["AMQP_URI"]) as connection:
            dead_letter_queue(topology)(connection.default_channel).declare()
        super().setup()

    def stop(self) -> None:
        self.stopping = True
        super().stop()

    def handle_message(self, body: Any, message: Message) -> None:
        try:
            event = parse_event(body)
        except InvalidArgument as error:
            log.error("event breaks the contract; dead-lettered", extra={"violations": str(error.violations)})
            metrics.EVENTS_CONSUMED.labels(self.queue.name, "rejected").inc()
            message.reject(requeue=False)
            return
        request_id = (message.headers or {}).get(logs.REQUEST_ID_HEADER)
        self._run(event, message, {"request_id": request_id, RETRY_ATTEMPT: 0})

    def _run(self, event: Event, message: Message, context_data: dict[str, Any]) -> None:
        self.container.spawn_worker(
            self, (event,), {}, context_data=context_data, handle_result=partial(self.handle_result, message)
        )

    def handle_result(
        self, message: Message, worker_ctx: WorkerContext, result: Any = None, exc_info: Any = None
    ) -> tuple[Any, Any]:
        if exc_info is not None and is_transient(exc_info[1]) and not self.stopping:
            attempt = worker_ctx.data[RETRY_ATTEMPT]
            context_data = {**worker_ctx.data, RETRY_ATTEMPT: attempt + 1}
            log.warning(
                "event handling will be retried", extra={"attempt": attempt, "error": str(exc_info[1])}
            )
            # A thread of its own waits, so that this worker's slot is free meanwhile.
            self.container.spawn_managed_thread(
                partial(self._retry_after, backoff(attempt), worker_ctx.args[0], message, context_data)
            )
            return result, exc_info
        try:
            self.handle_message_processed(message, result, exc_info)
        except (OSError, AMQPError) as error:
            # The connection that delivered the message is gone, and the broker has
            # taken the message back to deliver it again; nothing is lost, and the
            # consumer reconnects by itself.
            log.warning("acknowledgement lost with the connection", extra={"error": repr(error)})
        return result, exc_info

    def _retry_after(
        self, seconds: float, event: Event, message: Message, context_data: dict[str, Any]
    ) -> None:
        eventlet.sleep(seconds)
        if self.stopping:
            self.queue_consumer.requeue_message(message)
        else:
            self._run(event, message, context_data)


handle_event = EventHandler.decorator


class RequestContext(DependencyProvider):
    """Binds each worker's request id for the logs and times its event handling."""

    def worker_setup(self, worker_ctx: WorkerContext) -> None:
        logs.bind_request_id(worker_ctx.data.get("request_id"))
        worker_ctx.data["started"] = time.perf_counter()

    def worker_result(self, worker_ctx: WorkerContext, result: Any = None, exc_info: Any = None) -> None:
        if not isinstance(worker_ctx.entrypoint, EventHandler):
            return
        queue = worker_ctx.entrypoint.queue.name
        elapsed = time.perf_counter() - worker_ctx.data["started"]
        metrics.EVENTS_CONSUMED.labels(queue, "failed" if exc_info else "ok").inc()
        metrics.EVENT_LATENCY.labels(queue).observe(elapsed)
        event = worker_ctx.args[0]
        details = {"queue": queue, "event_id": event.id, "type": event.type, "ms": round(elapsed * 1000, 2)}
        if exc_info:
            log.error("event handling failed", exc_info=exc_info, extra=details)
        else:
            log.debug("event handled", extra=details)


class Metrics(DependencyProvider):
    """Serves this worker's Prometheus metrics."""

    def __init__(self, process: str) -> None:
        self.process = process

    def setup(self) -> None:
        logs.configure(self.process)
        metrics.serve(self.process)


def kombu_publish(amqp_url: str, topology: bus.Topology) -> bus.Publish:
    """Publishes outbox messages from an eventlet process, with confirms."""
    exchange = events_exchange(topology)
    publisher = AmqpPublisher(
        amqp_url, exchange=exchange, declare=[exchange], serializer="json", delivery_mode=2, use_confirms=True
    )

    def publish(messages: Sequence[bus.OutgoingMessage]) -> None:
        for message in messages:
            publisher.publish(
                message.body,
                routing_key=message.type,
                message_id=message.id,
                headers={logs.REQUEST_ID_HEADER: message.request_id},
            )
            metrics.EVENTS_PUBLISHED.labels(message.type).inc()

    return publish


class StoreProvider(DependencyProvider):
    """Gives handlers the service's `Store`, publishing its outbox through kombu."""

    def __init__(self, service: str, metadata: MetaData) -> None:
        self.service = service
        self.metadata = metadata

    def setup(self) -> None:
        publish = kombu_publish(self.container.config["AMQP_URI"], bus.Topology.from_env())
        self.store = Store(self.service, self.metadata, publish)

    def stop(self) -> None:
        self.store.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> Store:
        return self.store


def worker_base(service: str, metadata: MetaData) -> type:
    """The base of a service's nameko worker: metrics, request ids, its store, and the
    timer relaying its outbox to the bus."""

    class ServiceWorker:
        metrics = Metrics(f"{service}-worker")
        context = RequestContext()
        store: Store = StoreProvider(service, metadata)

        @timer(interval=OUTBOX_RELAY_SECONDS)
        def relay_outbox(self) -> None:
            self.store.relay.relay_pending()

        @timer(interval=PRUNE_SECONDS)
        def prune_messaging_tables(self) -> None:
            self.store.relay.prune(MESSAGING_RETENTION)

    return ServiceWorker
