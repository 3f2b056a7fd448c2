"""The queues a service consumes, declared once in its `bus.py`: its worker's event
handlers, the processes consuming its work queues and the migration command all read
these declarations, so that what is declared and what is consumed cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumerQueue:
    """The durable queue `<namespace>.<name>` of one consumer: bound to `event_types`,
    or, without any, a work queue, bound to the fan-out exchange `<namespace>.<fed_by>`
    (see `bus.Topology`)."""

    name: str
    event_types: tuple[str, ...] = ()
    fed_by: str = ""
    # One consumer at a time receives the queue's messages, in order; the others wait as
    # standbys. For a consumer that keeps state of its own between messages.
    single_active: bool = False
