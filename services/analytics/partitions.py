"""The stream into analytics split by device, so that several evaluators share it.

Each device belongs to one of `GANTRY_ANALYTICS_PARTITIONS` partitions (a CRC-32 of its
id, the same in every process). Each partition has a queue of its own on the readings
exchange, consumed by one evaluator at a time (`GANTRY_ANALYTICS_PARTITION` names which):
every queue receives every batch, and an evaluator applies the readings of its own
partition's devices only, recording each batch as applied for its partition. A device's
state, alarms and machine figures thus stay with one process, in order, as with one
partition; and the evaluators of a busy platform run on as many cores as there are
partitions.

Partition 0's queue is the one a single evaluator consumes, so one partition is the
platform as it was. Changing the count moves devices between partitions: stop ingest
and let the evaluators drain first (then delete the queues of partitions no longer
used: they stay bound and would fill).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from services.kit import bus
from services.kit.consumers import ConsumerQueue
from services.kit.settings import env

MAX_PARTITIONS = 64
QUEUE = "analytics.readings"


@dataclass(frozen=True)
class Partition:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_PARTITIONS:
            raise ValueError(f"GANTRY_ANALYTICS_PARTITIONS must be 1 to {MAX_PARTITIONS}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"GANTRY_ANALYTICS_PARTITION must be 0 to {self.count - 1}")

    def owns(self, device_id: str) -> bool:
        return self.count == 1 or zlib.crc32(device_id.encode()) % self.count == self.index

    def claim(self, batch_id: str) -> str:
        """The record that this partition applied the batch."""
        return batch_id if self.index == 0 else f"{batch_id}/{self.index}"

    @property
    def queue(self) -> ConsumerQueue:
        # A device's readings are applied in order by one process at a time.
        name = QUEUE if self.index == 0 else f"{QUEUE}.{self.index}"
        return ConsumerQueue(name, fed_by=bus.READINGS, single_active=True)


# The whole stream: a single evaluator's.
WHOLE = Partition()


def partition_count() -> int:
    return int(env("ANALYTICS_PARTITIONS", "1"))


def this_partition() -> Partition:
    """The partition this evaluator applies (GANTRY_ANALYTICS_PARTITION of
    GANTRY_ANALYTICS_PARTITIONS)."""
    return Partition(int(env("ANALYTICS_PARTITION", "0")), partition_count())


def all_partitions() -> list[Partition]:
    count = partition_count()
    return [Partition(index, count) for index in range(count)]
