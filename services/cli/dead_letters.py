"""The dead-letter queue, read and settled one message at a time.

Messages are taken without acknowledgement, so that those not replayed or purged go back
to the queue, in their order, when the connection closes. A replay republishes a message
to the exchange and routing key it was first published with, with its own headers, and
waits for the broker's confirmation before it removes the dead letter: a failure between
the two leaves the dead letter in place, so a message is replayed at least once, and
consumers skip what they have handled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import UnroutableError

from services.kit.bus import FAN_OUTS, Topology

log = logging.getLogger("gantry.cli")

# How many times a message was replayed, carried by the message itself.
REPLAYS_HEADER = "x-gantry-replays"
# The broker's bookkeeping of earlier deliveries and deaths: a replayed message starts afresh.
_BROKER_HEADERS = ("x-death", "x-delivery-count")
_BROKER_HEADER_PREFIXES = ("x-first-death-", "x-last-death-")


@dataclass(frozen=True)
class DeadLetter:
    delivery_tag: int
    properties: pika.BasicProperties
    body: bytes

    @property
    def _death(self) -> dict[str, Any]:
        # The broker puts the latest death first.
        deaths = (self.properties.headers or {}).get("x-death") or [{}]
        return deaths[0]

    @property
    def message_id(self) -> str:
        return self.properties.message_id or ""

    @property
    def queue(self) -> str:
        return _text(self._death.get("queue", ""))

    @property
    def exchange(self) -> str:
        return _text(self._death.get("exchange", ""))

    @property
    def routing_key(self) -> str:
        keys = self._death.get("routing-keys") or [""]
        return _text(keys[0])

    @property
    def event_type(self) -> str:
        """An event's type is its routing key; a work message's, its exchange's name."""
        return self.routing_key or self.exchange.rpartition(".")[2]

    @property
    def reason(self) -> str:
        return _text(self._death.get("reason", ""))

    @property
    def dead_lettered_at(self) -> datetime | None:
        at = self._death.get("time")
        if isinstance(at, datetime):
            return at if at.tzinfo else at.replace(tzinfo=UTC)
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "queue": self.queue,
            "type": self.event_type,
            "reason": self.reason,
            "dead_lettered_at": self.dead_lettered_at,
            "deaths": self._death.get("count", 1),
            "replays": (self.properties.headers or {}).get(REPLAYS_HEADER, 0),
        }

    def detail(self) -> dict[str, Any]:
        headers = {key: _plain(value) for key, value in (self.properties.headers or {}).items()}
        return {
            **self.summary(),
            "exchange": self.exchange,
            "routing_key": self.routing_key,
            "content_type": self.properties.content_type,
            "headers": headers,
            "body": _decoded(self.body),
        }

    def target(self, topology: Topology) -> tuple[str, str]:
        """Where a replay goes: where the message was first published; but a message of a
        fan-out exchange goes to the queue it died in alone, since the exchange would give
        it again to every other queue bound to it, which took it the first time."""
        if self.exchange in {topology.exchange(name) for name in FAN_OUTS}:
            return "", self.queue
        return self.exchange, self.routing_key

    def replayed_properties(self) -> pika.BasicProperties:
        headers = {
            key: value
            for key, value in (self.properties.headers or {}).items()
            if key not in _BROKER_HEADERS and not key.startswith(_BROKER_HEADER_PREFIXES)
        }
        headers[REPLAYS_HEADER] = int(headers.get(REPLAYS_HEADER, 0)) + 1
        properties = pika.BasicProperties(**vars(self.properties))
        properties.headers = headers
        return properties


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on; every criterion given must hold."""

    queue: str = ""
    event_type: str = ""
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    message_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def narrowed(self) -> bool:
        return bool(self.queue or self.event_type or self.older_than or self.newer_than or self.message_ids)

    def matches(self, letter: DeadLetter, topology: Topology, now: datetime) -> bool:
        if self.queue and letter.queue not in (self.queue, topology.queue(self.queue)):
            return False
        if self.event_type and letter.event_type != self.event_type:
            return False
        if self.message_ids and letter.message_id not in self.message_ids:
            return False
        return self._age_matches(letter.dead_lettered_at, now)

    def _age_matches(self, at: datetime | None, now: datetime) -> bool:
        if self.older_than is None and self.newer_than is None:
            return True
        if at is None:
            return False
        age = now - at
        return (self.older_than is None or age >= self.older_than) and (
            self.newer_than is None or age <= self.newer_than
        )


class ReplayFailed(Exception):
    """The broker did not take a replayed message: no queue is bound to its routing key."""


class DeadLetterQueue:
    """The dead-letter queue of `topology` on an open connection, browsed at most `limit`
    messages deep."""

    def __init__(self, connection: pika.BlockingConnection, topology: Topology) -> None:
        self._topology = topology
        self._channel: BlockingChannel = connection.channel()
        self._channel.confirm_delivery()

    @property
    def name(self) -> str:
        return self._topology.dead_letter_queue

    def select(self, selection: Selection, limit: int) -> Iterator[DeadLetter]:
        """The dead letters `selection` matches among the first `limit` of the queue."""
        now = datetime.now(UTC)
        for _ in range(limit):
            method, properties, body = self._channel.basic_get(self.name)
            if method is None:
                return
            letter = DeadLetter(method.delivery_tag, properties, body)
            if selection.matches(letter, self._topology, now):
                yield letter

    def replay(self, letter: DeadLetter) -> tuple[str, str]:
        exchange, routing_key = letter.target(self._topology)
        properties = letter.replayed_properties()
        try:
            self._channel.basic_publish(exchange, routing_key, letter.body, properties, mandatory=True)
        except UnroutableError as error:
            raise ReplayFailed(f"no queue takes {routing_key or exchange!r}") from error
        self._channel.basic_ack(letter.delivery_tag)
        log.info(
            "dead letter replayed",
            extra={
                "message_id": letter.message_id,
                "queue": letter.queue,
                "exchange": exchange,
                "routing_key": routing_key,
                "replays": properties.headers[REPLAYS_HEADER],
            },
        )
        return exchange, routing_key

    def drop(self, letter: DeadLetter) -> None:
        self._channel.basic_ack(letter.delivery_tag)
        log.info("dead letter purged", extra={"message_id": letter.message_id, "queue": letter.queue})

    def purge(self) -> int:
        purged = self._channel.queue_purge(self.name).method.message_count
        log.info("dead-letter queue purged", extra={"messages": purged})
        return purged


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _plain(value: Any) -> Any:
    """A header's value as JSON can say it."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _decoded(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace")
