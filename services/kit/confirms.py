"""Publisher confirms for many messages at once, and the callers whose messages share them.

pika's blocking channel waits for the broker's confirm of each message before it sends the
next: one round trip, and for a quorum queue one log sync, per message. `Confirms` sends a
lot and waits once for the confirms of all of it; `Waiting` gathers the messages of callers
that arrive while a lot is in flight, so that the next lot takes them all (group commit).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.frame import Method


@dataclass(frozen=True)
class Publication:
    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    mandatory: bool = True


class Confirms:
    """Puts a channel in confirm mode and publishes on it lots of messages, each answered
    by whether the broker took it: confirmed, and for a mandatory one, routed to a queue."""

    def __init__(self, channel: BlockingChannel) -> None:
        self._channel = channel
        self._published = 0
        self._settled: dict[int, bool] = {}
        self._returned: set[int] = set()
        self._in_flight: dict[str, int] = {}
        selected: list[Method] = []
        channel._impl.confirm_delivery(ack_nack_callback=self._on_confirm, callback=selected.append)
        channel._impl.add_on_return_callback(self._on_return)
        channel._flush_output(lambda: bool(selected))

    def publish(self, publications: Sequence[Publication]) -> list[bool]:
        """Whether the broker took each publication; returns once it answered for all.
        Publications of one lot need distinct message ids, by which returned ones are
        known. Raises pika's errors when the channel or connection fails meanwhile."""
        first = self._published + 1
        for tag, publication in enumerate(publications, start=first):
            self._in_flight[publication.properties.message_id] = tag
            self._channel._impl.basic_publish(
                publication.exchange,
                publication.routing_key,
                publication.body,
                publication.properties,
                publication.mandatory,
            )
        self._published += len(publications)
        tags = range(first, self._published + 1)
        try:
            self._channel._flush_output(lambda: all(tag in self._settled for tag in tags))
            return [self._settled[tag] and tag not in self._returned for tag in tags]
        finally:
            self._in_flight.clear()
            self._settled.clear()
            self._returned.clear()

    def _on_confirm(self, frame: Method) -> None:
        method = frame.method
        taken = isinstance(method, pika.spec.Basic.Ack)
        last = method.delivery_tag
        # A multiple confirm answers for every message up to its tag.
        for tag in range(last - len(self._in_flight), last + 1) if method.multiple else (last,):
            self._settled.setdefault(tag, taken)

    def _on_return(self, _: object, __: object, properties: pika.BasicProperties, ___: bytes) -> None:
        # The broker names no delivery tag on a returned message; its id tells which it was.
        tag = self._in_flight.get(properties.message_id)
        if tag is not None:
            self._returned.add(tag)


@dataclass(eq=False)
class Ticket:
    """One caller's publication, settled by whichever caller publishes it."""

    publication: Publication
    taken: bool | None = None
    error: Exception | None = None
    settled: threading.Event = field(default_factory=threading.Event)

    def settle(self, taken: bool | None, error: Exception | None = None) -> None:
        self.taken, self.error = taken, error
        self.settled.set()


class Waiting:
    """The tickets not yet taken by a publishing caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: list[Ticket] = []

    def add(self, tickets: list[Ticket]) -> None:
        with self._lock:
            self._tickets += tickets

    def take(self, at_most: int) -> list[Ticket]:
        with self._lock:
            taken, self._tickets = self._tickets[:at_most], self._tickets[at_most:]
        return taken

    def withdraw(self, tickets: list[Ticket]) -> bool:
        """Takes back tickets no caller has taken yet; False when one has taken any."""
        with self._lock:
            if not all(ticket in self._tickets for ticket in tickets):
                return False
            for ticket in tickets:
                self._tickets.remove(ticket)
        return True
