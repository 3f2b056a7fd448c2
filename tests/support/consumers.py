"""Batch consumers (telemetry-writer, analytics-evaluator) run on a thread of the test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from services.kit.batch_consumer import BatchConsumer
from tests.support.backends import AMQP_URL


@contextmanager
def running_consumer(consumer: BatchConsumer) -> Iterator[BatchConsumer]:
    """`consumer` consuming on a thread until the block ends."""
    thread = threading.Thread(target=consumer.run, args=(AMQP_URL,), daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(10)
