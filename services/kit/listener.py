"""A listener that hears events as they are published, for state kept in a process's memory.

Unlike a consumer's durable queue, the listener's queue lives only as long as its
connection: it is exclusive, auto-deleted and not durable, so an installation
with many processes leaves nothing behind. What is published while it is
disconnected is therefore lost, and whoever relies on the events is told of every
connection and disconnection, to distrust what it learned in between.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable, Sequence

import orjson
import pika
from pika import BasicProperties
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from pika.spec import Basic

from services.kit.bus import Topology
from services.kit.errors import InvalidArgument
from services.kit.events import Event, parse_event

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 15.0
# How long the listener's thread waits for a delivery before it checks whether to stop.
POLL_SECONDS = 0.5
# A connection that died silently goes unnoticed until two heartbeats are missed;
# the broker's usual 60 s is too long for state that trusts the events.
HEARTBEAT_SECONDS = 10


def _nothing() -> None:
    pass


class EventListener:
    """Calls `on_event` for each event of `event_types`, on a daemon thread of its own.

    It reconnects with backoff after any failure. `on_connected` runs once its queue
    is bound, so that every event published afterwards is heard; `on_disconnected`
    once it is not. An `on_event` that raises ends the connection, so that a missed
    event is announced as a disconnection. Invalid events are logged and ignored.
    """

    def __init__(
        self,
        amqp_url: str,
        topology: Topology,
        event_types: Sequence[str],
        on_event: Callable[[Event], None],
        on_connected: Callable[[], None] = _nothing,
        on_disconnected: Callable[[], None] = _nothing,
    ) -> None:
        self._parameters = pika.URLParameters(amqp_url)
        if self._parameters.heartbeat is None:
            self._parameters.heartbeat = HEARTBEAT_SECONDS
        self._topology = topology
        self._event_types = list(event_types)
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._connected = threading.Event()
        self._was_connected = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-listener", daemon=True)

    @property
    def connected(self) -> bool:
        """Whether events are being heard now."""
        return self._connected.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                self._listen()
            except AMQPError as error:
                log.warning("event listener disconnected", extra={"error": repr(error)})
            except Exception:
                log.exception("event listener failed")
            if self._was_connected:
                delay = FIRST_RETRY_SECONDS
            # Jitter keeps the processes of an installation from reconnecting in step.
            self._stopping.wait(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    def _listen(self) -> None:
        self._was_connected = False
        connection = pika.BlockingConnection(self._parameters)
        try:
            channel = connection.channel()
            self._bind(channel)
            self._was_connected = True
            self._connected.set()
            log.info("event listener connected", extra={"events": self._event_types})
            self._on_connected()
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=POLL_SECONDS)
        finally:
            if self._connected.is_set():
                self._connected.clear()
                self._on_disconnected()
            with contextlib.suppress(AMQPError):
                if connection.is_open:
                    connection.close()

    def _bind(self, channel: BlockingChannel) -> None:
        self._topology.declare(channel)
        declared = channel.queue_declare("", exclusive=True, auto_delete=True, durable=False)
        queue = declared.method.queue
        for event_type in self._event_types:
            channel.queue_bind(queue, self._topology.events_exchange, routing_key=event_type)
        channel.basic_consume(queue, self._deliver, auto_ack=True)

    def _deliver(
        self, _channel: BlockingChannel, _method: Basic.Deliver, _properties: BasicProperties, body: bytes
    ) -> None:
        try:
            event = parse_event(orjson.loads(body))
        except (orjson.JSONDecodeError, InvalidArgument):
            log.warning("invalid event ignored", extra={"body": body[:200].decode(errors="replace")})
            return
        self._on_event(event)
