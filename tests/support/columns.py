"""Readings in rows turned into the columns columnar ingest puts on the bus, to send the
same readings either way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from services.kit.batch_columns import KeptColumn, KeptColumns
from services.kit.batches import AcceptedBatch

_DTYPES = {float: np.float64, int: np.int64, bool: np.bool_}


def in_columns(device_id: str, samples: Sequence[tuple[int, Mapping[str, Any]]]) -> KeptColumns:
    """The samples' readings in columns, over the samples that have any, in their order."""
    samples = [(ts, values) for ts, values in samples if values]
    columns = []
    for channel in sorted({channel for _, values in samples for channel in values}):
        where = [index for index, (_, values) in enumerate(samples) if channel in values]
        held = [samples[index][1][channel] for index in where]
        dtype = _DTYPES.get(type(held[0]))
        typed = held if dtype is None else np.array(held, dtype=dtype)
        positions = None if len(where) == len(samples) else np.array(where, dtype=np.int64)
        columns.append(KeptColumn(channel, typed, positions))
    return KeptColumns(device_id, np.array([ts for ts, _ in samples], dtype=np.int64), columns)


def batch_in_columns(batch: AcceptedBatch) -> AcceptedBatch:
    """The batch with every device's readings in columns, as the bus carries them."""
    columns = [
        in_columns(device_id, samples)
        for device_id, samples in batch.devices
        if any(values for _, values in samples)
    ]
    in_columns_batch = AcceptedBatch(batch.id, batch.tenant_id, batch.retention_days, [], columns)
    return AcceptedBatch.decode(in_columns_batch.encode())
