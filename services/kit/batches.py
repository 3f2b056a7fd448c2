"""Accepted readings on their way from ingest to their consumers (telemetry-writer, which
stores them, and analytics-evaluator, which evaluates alarm rules on them) through the
readings exchange: one message per ingest call. Readings sent in rows travel as compact
JSON:

`{"id": ..., "tenant_id": ..., "retention_days": 365,
  "devices": [[device_id, [[ts_ms, {channel: value, ...}], ...]], ...]}`

Readings sent in columns stay in columns, in the binary form of `batch_columns.py`.
Values are already checked and typed (a float channel's value is a JSON float).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from services.kit import batch_columns
from services.kit.batch_columns import KeptColumns

# Timestamps PostgreSQL and Python's datetime can both hold, in ms since the epoch.
MIN_TS_MS = 0
MAX_TS_MS = 253_402_300_799_999
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A reading's value, typed by its channel.
Scalar = float | int | bool | str

Samples = Sequence[tuple[int, Mapping[str, Scalar]]]


@dataclass(frozen=True)
class AcceptedBatch:
    """Devices' readings in rows (`devices`) and in columns (`columns`)."""

    id: str
    tenant_id: str
    retention_days: int
    devices: Sequence[tuple[str, Samples]]
    columns: Sequence[KeptColumns] = ()

    def encode(self) -> bytes:
        header = {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "retention_days": self.retention_days,
            "devices": self.devices,
        }
        return batch_columns.encode(header, self.columns) if self.columns else orjson.dumps(header)

    @classmethod
    def decode(cls, body: bytes) -> AcceptedBatch:
        """The batch in `body`; MalformedBatch when it is not one."""
        try:
            if body.startswith(batch_columns.MAGIC):
                data, columns = batch_columns.decode(body)
            else:
                data, columns = orjson.loads(body), []
            batch = cls(data["id"], data["tenant_id"], data["retention_days"], data["devices"], columns)
        except (orjson.JSONDecodeError, batch_columns.MalformedColumns, KeyError, TypeError) as error:
            raise MalformedBatch(str(error)) from error
        if not (_all_str(batch.id, batch.tenant_id) and type(batch.retention_days) is int):
            raise MalformedBatch("id, tenant_id or retention_days of the wrong type")
        if type(batch.devices) is not list or not all(_is_device(device) for device in batch.devices):
            raise MalformedBatch("devices are not [device_id, [[ts_ms, values], ...]] pairs")
        if not all(_is_uuid(device.device_id) and _in_range(device.ts_ms) for device in columns):
            raise MalformedBatch("a device of the columns without UUID, samples, or with a time out of range")
        return batch

    def reading_count(self) -> int:
        in_rows = sum(len(values) for _, samples in self.devices for _, values in samples)
        return in_rows + sum(device.reading_count() for device in self.columns)

    def in_columns(self) -> AcceptedBatch:
        """The batch with its readings in rows laid out in columns, but for a device whose
        channel has values of more than one type, which stays in rows."""
        if not self.devices:
            return self
        rows, columns = [], []
        for device_id, samples in self.devices:
            laid_out = batch_columns.columns_of_rows(device_id, samples)
            if laid_out is None:
                rows.append((device_id, samples))
            elif len(laid_out.ts_ms):
                columns.append(laid_out)
        return AcceptedBatch(self.id, self.tenant_id, self.retention_days, rows, [*columns, *self.columns])

    def in_rows(self, keep: Callable[[str], bool] = lambda device_id: True) -> AcceptedBatch:
        """The batch with its readings in columns turned into rows, those of the devices
        `keep` keeps (its rows stay as they are)."""
        if not self.columns:
            return self
        devices = [*self.devices, *((d.device_id, d.rows()) for d in self.columns if keep(d.device_id))]
        return AcceptedBatch(self.id, self.tenant_id, self.retention_days, devices)


def utc_of(ts_ms: int) -> datetime:
    """The UTC time of a reading's timestamp in ms since the epoch."""
    return EPOCH + timedelta(milliseconds=ts_ms)


class MalformedBatch(Exception):
    """A message on a readings queue that is no batch of readings."""


def _all_str(*values: Any) -> bool:
    return all(type(v) is str for v in values)


def _is_device(device: Any) -> bool:
    return (
        type(device) is list
        and len(device) == 2
        and type(device[0]) is str
        and _is_uuid(device[0])
        and type(device[1]) is list
        and all(_is_sample(s) for s in device[1])
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_sample(sample: Any) -> bool:
    return (
        type(sample) is list
        and len(sample) == 2
        and type(sample[0]) is int
        and MIN_TS_MS <= sample[0] <= MAX_TS_MS
        and type(sample[1]) is dict
    )


def _in_range(ts_ms: np.ndarray) -> bool:
    return len(ts_ms) > 0 and bool(ts_ms.min() >= MIN_TS_MS and ts_ms.max() <= MAX_TS_MS)
