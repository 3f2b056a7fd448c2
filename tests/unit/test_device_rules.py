from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.kit.errors import FailedPrecondition
from services.registry.domain import (
    TRANSITIONS,
    Channel,
    Connectivity,
    Device,
    DeviceState,
    ValueType,
    online_window,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def device(state: DeviceState, last_seen_at: datetime | None = None) -> Device:
    return Device(
        "d", "t", "S-1", "Mill", state, 3, "p", 1, "", "", {}, {}, "", NOW, NOW, last_seen_at=last_seen_at
    )


@pytest.mark.parametrize("start", list(DeviceState))
@pytest.mark.parametrize("target", list(DeviceState))
def test_only_lifecycle_transitions_are_allowed(start: DeviceState, target: DeviceState) -> None:
    if target in TRANSITIONS[start]:
        moved = device(start).moved_to(target, NOW)
        assert (moved.state, moved.version) == (target, 4)
    else:
        with pytest.raises(FailedPrecondition):
            device(start).moved_to(target, NOW)


def test_online_means_seen_within_three_of_the_fastest_sample_intervals() -> None:
    channels = [
        Channel("a", ValueType.FLOAT, sample_interval_ms=1000),
        Channel("b", ValueType.INT, sample_interval_ms=5000),
    ]
    window = online_window(channels)
    assert window == timedelta(seconds=3)
    assert device(DeviceState.ACTIVE).connectivity(window, NOW) is Connectivity.NEVER_SEEN
    assert (
        device(DeviceState.ACTIVE, NOW - timedelta(seconds=3)).connectivity(window, NOW)
        is Connectivity.ONLINE
    )
    assert (
        device(DeviceState.ACTIVE, NOW - timedelta(seconds=4)).connectivity(window, NOW)
        is Connectivity.OFFLINE
    )
    assert online_window([Channel("c", ValueType.BOOL)]) == timedelta(minutes=3)
