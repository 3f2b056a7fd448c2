"""The simulated factory of `make run` streams readings a newcomer can read back."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually
from tools.simulate import open_factory, stream


def test_the_factory_streams_through_both_device_apis_and_restarts_with_the_same_devices(
    platform: Platform, tmp_path: Path
) -> None:
    state = tmp_path / "simulated-factory.json"
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(http, OPERATOR_TOKEN, state)
        assert open_factory(http, OPERATOR_TOKEN, state) == factory
        key = {"Authorization": f"Bearer {factory.api_key}"}

        def streaming() -> bool:
            stream(http, factory, ticks=1)
            latest = [
                http.get(f"/v1/devices/{device['id']}/telemetry/latest", headers=key).json()["values"]
                for device in (factory.devices[0], factory.devices[-1])
            ]
            return all(len(values) == 6 for values in latest)

        eventually(streaming, 60, "readings of the ThingsBoard-speaking and the edge-gateway machines")
