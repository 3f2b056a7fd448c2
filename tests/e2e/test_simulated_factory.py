"""The simulated factory of `make run` streams readings a newcomer can read back, under alarm
rules its machines break now and then."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually
from tools.simulate import (
    MACHINES,
    OVERHEAT_PERIOD,
    OVERHEATING_MACHINES,
    SILENCE_PERIOD,
    SILENCE_TICKS,
    SILENT_MACHINE,
    Machine,
    open_factory,
    stream,
)


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


def test_the_factory_watches_its_machines_with_alarm_rules(platform: Platform, tmp_path: Path) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(http, OPERATOR_TOKEN, tmp_path / "simulated-factory.json")
        rules = http.get("/v1/alarm-rules", headers={"Authorization": f"Bearer {factory.api_key}"}).json()
    assert sorted(rule["name"] for rule in rules["items"]) == [
        "machine stopped reporting",
        "spindle overheating",
    ]


def test_some_machines_overheat_past_the_rules_thresholds_and_one_falls_silent() -> None:
    machines = [Machine(index) for index in range(MACHINES)]
    hottest = [0.0] * MACHINES
    silent = [0] * MACHINES
    # One period of silence, longer than one of overheating; every tick a second.
    assert SILENCE_PERIOD >= OVERHEAT_PERIOD
    for tick in range(SILENCE_PERIOD):
        for machine in machines:
            sample = machine.sample(1000 * tick)
            hottest[machine.index] = max(hottest[machine.index], sample["values"]["spindle_temp"])
            silent[machine.index] += machine.silent
    for index in range(MACHINES):
        overheats = index in OVERHEATING_MACHINES
        assert (hottest[index] > 95) == overheats, (index, hottest[index])
    assert silent == [SILENCE_TICKS if i == SILENT_MACHINE else 0 for i in range(MACHINES)]
