"""Telemetry's entities, in plain Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class KnownDevice:
    """A device as telemetry knows it from the registry's events."""

    id: str
    tenant_id: str
    serial_number: str
    state: str
    registered_at: datetime
    profile_id: str
    profile_version: int
    # The registry's versions of the device when its state and its profile were last set:
    # events carry one of them each and may arrive out of order.
    state_as_of: int = 1
    profile_as_of: int = 1


@dataclass(frozen=True)
class ChannelValue:
    channel: str
    ts: datetime
    value: float | int | bool | str


@dataclass(frozen=True)
class LatestValues:
    device_id: str
    values: list[ChannelValue]


@dataclass(frozen=True)
class ReadingsPage:
    """A page of a device's readings by (ts, channel); `next_cursor` is empty on the last page."""

    readings: list[ChannelValue]
    next_cursor: str


@dataclass(frozen=True)
class Bucket:
    """The readings of one channel from `start` for the width of a series' buckets; an
    aggregate not asked for is None."""

    start: datetime
    count: int | None = None
    min: float | None = None
    max: float | None = None
    avg: float | None = None
    first: float | int | bool | str | None = None
    last: float | int | bool | str | None = None


@dataclass(frozen=True)
class Series:
    """One channel downsampled into buckets aligned to the epoch; empty buckets are left out."""

    device_id: str
    channel: str
    bucket_seconds: int
    aggregates: list[str]
    buckets: list[Bucket]
