"""A batch consumer behind a backlog gathers more than its time limit would allow, and one
that keeps up flushes each batch as it comes (see `BatchConsumer._due`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.kit.batch_consumer import BatchConsumer, BatchSettings
from services.kit.batches import AcceptedBatch
from services.kit.bus import ConfirmingPublisher, Topology, WorkMessage
from services.telemetry.bus import READINGS
from services.telemetry.writer import METRICS
from tests.support.consumers import running_consumer
from tests.support.telemetry import declare_readings_queue
from tests.support.waiting import eventually

BACKLOG = 200
# Every flush is due by the clock as soon as it has a batch.
NO_WAIT = BatchSettings(flush_readings=1_000_000, flush_seconds=0.0, prefetch=100)


def _batch() -> AcceptedBatch:
    samples = [[1_700_000_000_000 + 1000 * i, {"temp": 20.5}] for i in range(10)]
    return AcceptedBatch(str(uuid.uuid4()), str(uuid.uuid4()), 365, [(str(uuid.uuid4()), samples)])


def _send(publisher: ConfirmingPublisher, count: int) -> None:
    for _ in range(count):
        batch = _batch()
        publisher.send(WorkMessage(READINGS.fed_by, batch.id, batch.encode(), ""))


def _consumer(topology: Topology, flushes: list[int]) -> BatchConsumer:
    def handle(batches: Sequence[AcceptedBatch]) -> None:
        flushes.append(len(batches))

    return BatchConsumer(READINGS, topology, NO_WAIT, handle, METRICS)


def test_a_consumer_behind_a_backlog_gathers_what_waits_into_larger_flushes(
    topology: Topology, publisher: ConfirmingPublisher
) -> None:
    declare_readings_queue(topology)
    _send(publisher, BACKLOG)
    flushes: list[int] = []
    with running_consumer(_consumer(topology, flushes)):
        eventually(lambda: sum(flushes) == BACKLOG, 30, "the backlog handled")
    # Without the backlog rule every flush would hold one batch: the clock is always due.
    assert len(flushes) < BACKLOG / 2
    assert max(flushes) <= NO_WAIT.prefetch


def test_a_consumer_that_keeps_up_flushes_each_batch_as_it_comes(
    topology: Topology, publisher: ConfirmingPublisher
) -> None:
    declare_readings_queue(topology)
    flushes: list[int] = []
    with running_consumer(_consumer(topology, flushes)):
        for sent in range(1, 6):
            _send(publisher, 1)
            eventually(lambda sent=sent: sum(flushes) == sent, 30, f"batch {sent} handled")
    assert flushes == [1] * 5
