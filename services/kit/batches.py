"""Accepted readings on their way from ingest to their consumers (telemetry-writer, which
stores them, and analytics-evaluator, which evaluates alarm rules on them) through the
readings exchange: one message per ingest call, as compact JSON.

`{"id": ..., "tenant_id": ..., "retention_days": 365,
  "devices": [[device_id, [[ts_ms, {channel: value, ...}], ...]], ...]}`

Values are already checked and typed (a float channel's value is a JSON float).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

# Timestamps PostgreSQL and Python's datetime can both hold, in ms since the epoch.
MIN_TS_MS = 0
MAX_TS_MS = 253_402_300_799_999
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A reading's value, typed by its channel.
Scalar = float | int | bool | str

Samples = Sequence[tuple[int, Mapping[str, Scalar]]]


@dataclass(frozen=True)
class AcceptedBatch:
    id: str
    tenant_id: str
    retention_days: int
    devices: Sequence[tuple[str, Samples]]

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "tenant_id": self.tenant_id,
                "retention_days": self.retention_days,
                "devices": self.devices,
            }
        )

    @classmethod
    def decode(cls, body: bytes) -> AcceptedBatch:
        """The batch in `body`; MalformedBatch when it is not one."""
        try:
            data = orjson.loads(body)
            batch = cls(data["id"], data["tenant_id"], data["retention_days"], data["devices"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise MalformedBatch(str(error)) from error
        if not (_all_str(batch.id, batch.tenant_id) and type(batch.retention_days) is int):
            raise MalformedBatch("id, tenant_id or retention_days of the wrong type")
        if type(batch.devices) is not list or not all(_is_device(device) for device in batch.devices):
            raise MalformedBatch("devices are not [device_id, [[ts_ms, values], ...]] pairs")
        return batch

    def reading_count(self) -> int:
        return sum(len(values) for _, samples in self.devices for _, values in samples)


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
