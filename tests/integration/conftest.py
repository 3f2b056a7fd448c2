from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.consumers import ConsumerQueue
from services.kit.store import Store
from services.telemetry.bus import READINGS
from tests.support.access import ManualClock, migrated_store
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database

CAPTURE_QUEUE = "test-capture"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend the platform supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
    else:
        with postgres_database() as url:
            yield url


class CapturedEvents:
    """Every event published in a test's bus namespace, read from a queue bound to all types."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        self.channel = self.connection.channel()
        topology.declare(self.channel)
        self.queue = topology.queue(CAPTURE_QUEUE)
        topology.declare_consumer_queue(self.channel, ConsumerQueue(CAPTURE_QUEUE, ("#",)))

    def drain(self) -> list[tuple[pika.BasicProperties, bytes]]:
        messages = []
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return messages
            messages.append((properties, body))

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def topology() -> Iterator[Topology]:
    with bus_namespace([CAPTURE_QUEUE, READINGS.name]) as names:
        yield names


@pytest.fixture
def captured(topology: Topology) -> Iterator[CapturedEvents]:
    events = CapturedEvents(topology)
    yield events
    events.close()


@pytest.fixture
def publisher(topology: Topology) -> Iterator[ConfirmingPublisher]:
    confirming = ConfirmingPublisher(AMQP_URL, topology)
    yield confirming
    confirming.close()


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    """The registry's store on a migrated database."""
    with migrated_store(database_url, publisher) as registry_store:
        yield registry_store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
