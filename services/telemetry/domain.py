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

    @classmethod
    def none_yet(cls, device: KnownDevice) -> LatestValues:
        return cls(device.id, [])


Reading = dict[str, Any]
