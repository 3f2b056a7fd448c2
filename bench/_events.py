"""Events of one type as a benchmark watches them arrive on the bus."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pika

from services.kit.bus import Topology
from tests.support.backends import AMQP_URL


class EventWatcher:
    """Calls `seen(time, event)` on a thread of its own for every event of `event_type`
    published from now on, `time` being `time.perf_counter()` at its arrival."""

    def __init__(
        self, topology: Topology, event_type: str, seen: Callable[[float, dict[str, Any]], None]
    ) -> None:
        self._topology = topology
        self._event_type = event_type
        self._seen = seen
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        self._topology.declare(channel)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, self._topology.events_exchange, self._event_type)
        self._ready.set()
        for method, _properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=0.05):
            if method is not None:
                self._seen(time.perf_counter(), orjson.loads(body))
            if self._stop.is_set():
                break
        connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
