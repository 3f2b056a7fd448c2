"""Runs analytics's `-evaluator` process: python -m services.analytics.evaluator

It consumes every accepted batch of readings from `<namespace>.analytics.readings`, fed
by the readings exchange beside telemetry-writer's queue, and evaluates the alarm rules
watching each device (see `usecases/evaluation.py`); between flushes it compares NO_DATA
triggers with the clock. The queue has a single active consumer: run two replicas and
the second waits, ready, until the first goes. With several partitions of the devices
(`partitions.py`), one evaluator runs per partition, `GANTRY_ANALYTICS_PARTITION` saying which.
"""

from __future__ import annotations

import logging

from services.analytics.partitions import Partition, this_partition
from services.analytics.settings import EvaluatorSettings
from services.analytics.storage import metadata
from services.analytics.usecases.evaluation import Evaluation
from services.kit.batch_consumer import BatchConsumer, ConsumerMetrics, serve
from services.kit.bus import Topology
from services.kit.periodic import Periodic
from services.kit.store import Store

log = logging.getLogger(__name__)

METRICS = ConsumerMetrics.named("analytics", "evaluated")
FORGET_SECONDS = 3600
RETRY_SECONDS = 5


def evaluator(
    store: Store, topology: Topology, config: EvaluatorSettings, partition: Partition
) -> BatchConsumer:
    evaluation = Evaluation(store.unit_of_work, partition=partition)
    tick = Periodic("no-data tick", evaluation.tick, config.tick_seconds, RETRY_SECONDS)
    forget = Periodic("forgetting", evaluation.forget_old, FORGET_SECONDS, RETRY_SECONDS)

    def housekeeping() -> None:
        tick.when_due()
        forget.when_due()

    return BatchConsumer(partition.queue, topology, config, evaluation.apply, METRICS, housekeeping)


if __name__ == "__main__":
    serve(
        "analytics-evaluator",
        "analytics",
        metadata,
        lambda store, topology: evaluator(store, topology, EvaluatorSettings.from_env(), this_partition()),
        # A flush may raise and clear hundreds of alarms: their events are confirmed by
        # the broker while the next flush is evaluated.
        publish_in_background=True,
        # The alarms, the outbox and the batches applied grow by thousands of rows a
        # minute from the first flush on.
        custom_plans=True,
    )
