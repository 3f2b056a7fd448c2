"""Partitions of the stream into analytics: every device in exactly one, the first
partition the whole stream's queue and batch records, and nonsense refused."""

from __future__ import annotations

import uuid

import pytest

from services.analytics.bus import READINGS
from services.analytics.partitions import WHOLE, Partition


def test_every_device_belongs_to_exactly_one_partition_and_they_share_the_devices() -> None:
    devices = [str(uuid.uuid4()) for _ in range(1000)]
    partitions = [Partition(index, 3) for index in range(3)]
    owners = [[p.index for p in partitions if p.owns(device)] for device in devices]
    assert all(len(found) == 1 for found in owners)
    shares = [sum(found == [p.index] for found in owners) for p in partitions]
    assert all(250 < share < 420 for share in shares), shares
    assert all(WHOLE.owns(device) for device in devices)


def test_the_first_partition_keeps_the_whole_stream_s_queue_and_records() -> None:
    batch = str(uuid.uuid4())
    assert (Partition(0, 4).queue, Partition(0, 4).claim(batch)) == (READINGS, batch)
    second = Partition(1, 4)
    assert second.queue.name == f"{READINGS.name}.1" and second.queue.fed_by == READINGS.fed_by
    assert second.queue.single_active and second.claim(batch) == f"{batch}/1"


@pytest.mark.parametrize(("index", "count"), [(0, 0), (1, 1), (-1, 2), (2, 2), (0, 65)])
def test_a_partition_outside_its_count_is_refused(index: int, count: int) -> None:
    with pytest.raises(ValueError, match="GANTRY_ANALYTICS_PARTITION"):
        Partition(index, count)
