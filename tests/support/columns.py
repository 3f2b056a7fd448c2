"""Readings in rows turned into the columns columnar ingest puts on the bus, to send the
same readings either way."""

from __future__ import annotations

from services.kit.batches import AcceptedBatch


def batch_in_columns(batch: AcceptedBatch) -> AcceptedBatch:
    """The batch with every device's readings in columns, as the bus carries them."""
    return AcceptedBatch.decode(batch.in_columns().encode())
