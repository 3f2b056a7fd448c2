"""Telemetry's entities, in plain Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
    # The registry's version of the device when it last changed what is known here.
    version: int = 1


@dataclass(frozen=True)
class ChannelValue:
    channel: str
    ts: datetime
    value: float | int | bool | str


@dataclass(frozen=True)
class LatestValues:
    device_id: str
    values: list[ChannelValue]

    @classmethod
    def none_yet(cls, device: KnownDevice) -> LatestValues:
        return cls(device.id, [])


Reading = dict[str, Any]
