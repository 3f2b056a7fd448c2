"""The simulated factory of `make run` streams readings a newcomer can read back, under alarm
rules its machines break now and then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from gantry.v1 import people_pb2_grpc

from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually
from tools.simulate import (
    CUTTING_SECONDS_PER_PART,
    FAULT_PERIOD,
    FAULT_TICKS,
    FAULTY_MACHINE,
    MACHINES,
    OVERHEAT_PERIOD,
    OVERHEATING_MACHINES,
    PROFILE,
    SETUP_PERIOD,
    SETUP_TICKS,
    SILENCE_PERIOD,
    SILENCE_TICKS,
    SILENT_MACHINE,
    SITE,
    SPIKE_PERIOD,
    SPIKY_MACHINE,
    Machine,
    open_factory,
    stream,
)
from tools.simulated_capacity import offer_capacity


def test_the_factory_streams_through_both_device_apis_and_restarts_with_the_same_devices(
    platform_people: people_pb2_grpc.PeopleServiceStub, platform: Platform, tmp_path: Path
) -> None:
    state = tmp_path / "simulated-factory.json"
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(http, platform_people, OPERATOR_TOKEN, state)
        assert open_factory(http, platform_people, OPERATOR_TOKEN, state) == factory
        key = {"Authorization": f"Bearer {factory.api_key}"}

        def streaming() -> bool:
            stream(http, factory, ticks=1)
            latest = [
                http.get(f"/v1/devices/{device['id']}/telemetry/latest", headers=key).json()["values"]
                for device in (factory.devices[0], factory.devices[-1])
            ]
            return all(len(values) == len(PROFILE["channels"]) for values in latest)

        eventually(streaming, 60, "readings of the ThingsBoard-speaking and the edge-gateway machines")


def test_the_factory_watches_its_machines_with_alarm_rules(
    platform_people: people_pb2_grpc.PeopleServiceStub, platform: Platform, tmp_path: Path
) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(http, platform_people, OPERATOR_TOKEN, tmp_path / "simulated-factory.json")
        rules = http.get("/v1/alarm-rules", headers={"Authorization": f"Bearer {factory.api_key}"}).json()
    assert sorted(rule["name"] for rule in rules["items"]) == [
        "machine stopped reporting",
        "spindle overheating",
        "vibration anomaly",
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


def test_machines_set_up_make_parts_and_one_breaks_down_and_one_s_vibration_spikes() -> None:
    machines = [Machine(index) for index in range(MACHINES)]
    modes: list[dict[str, int]] = [{} for _ in machines]
    spikes = [0] * MACHINES
    last: list[dict] = [{} for _ in machines]
    for tick in range(SETUP_PERIOD):
        for machine in machines:
            values = machine.sample(1000 * tick)["values"]
            modes[machine.index][values["mode"]] = modes[machine.index].get(values["mode"], 0) + 1
            spikes[machine.index] += values["vibration"] > 10
            last[machine.index] = values
    assert all(found["setup"] == SETUP_TICKS for found in modes)
    # A period of setup holds one whole breakdown and at least two spikes.
    assert SETUP_PERIOD >= FAULT_PERIOD + FAULT_TICKS and SETUP_PERIOD >= 2 * SPIKE_PERIOD
    assert [found.get("fault", 0) for found in modes] == [
        FAULT_TICKS if i == FAULTY_MACHINE else 0 for i in range(MACHINES)
    ]
    assert spikes[SPIKY_MACHINE] >= 2
    assert sum(spikes) == spikes[SPIKY_MACHINE]
    for index, values in enumerate(last):
        assert values["parts"] == modes[index]["cutting"] // CUTTING_SECONDS_PER_PART
        assert 0 <= values["scrap"] <= values["parts"]


def test_the_factory_s_machines_are_measured_against_its_shift_calendar(
    platform_people: people_pb2_grpc.PeopleServiceStub, platform: Platform, tmp_path: Path
) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(http, platform_people, OPERATOR_TOKEN, tmp_path / "simulated-factory.json")
        key = {"Authorization": f"Bearer {factory.api_key}"}
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        # Two hours, in case the test runs as one ends.
        params = {
            "start": hour.isoformat(),
            "end": (hour + timedelta(hours=2)).isoformat(),
            "granularity": "hour",
        }

        def measured() -> list[dict[str, Any]] | None:
            stream(http, factory, ticks=1)
            answer = http.get(f"/v1/sites/{quote(SITE, safe='')}/performance", headers=key, params=params)
            assert answer.status_code == 200, answer.text
            periods = answer.json()["periods"]
            return periods if sum(period["inputs"]["asut"] for period in periods) > 0 else None

        periods = eventually(measured, 60, "the machines' first seconds, setting up, to be measured")
    # Three shifts around the clock plan every machine for every hour.
    assert [period["inputs"]["pbt"] for period in periods] == [MACHINES * 3600] * 2


def test_the_first_machine_s_hours_are_listed_once_and_its_measured_figures_fill_in(
    platform_people: people_pb2_grpc.PeopleServiceStub, platform: Platform, tmp_path: Path
) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(http, platform_people, OPERATOR_TOKEN, tmp_path / "simulated-factory.json")
        machine = factory.devices[0]["id"]
        listing = offer_capacity(http, factory.api_key, machine)
        # Started again, the factory offers the same listing, its two weeks of slots open once.
        assert offer_capacity(http, factory.api_key, machine)["id"] == listing["id"]
        key = {"Authorization": f"Bearer {factory.api_key}"}
        assert (listing["kind"], listing["device_id"], listing["status"]) == (
            "capacity",
            machine,
            "published",
        )
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        week = {"start": hour.isoformat(), "end": (hour + timedelta(weeks=2)).isoformat()}
        slots = http.get(f"/v1/listings/{listing['id']}/slots", headers=key, params=week).json()["items"]
        assert len(slots) == 14 * 24

        def measured() -> dict[str, Any] | None:
            stream(http, factory, ticks=1)
            return http.get(f"/v1/listings/{listing['id']}", headers=key).json()["measured"]

        figures = eventually(measured, 60, "the first machine's capacity to be measured and listed")
    assert 0 <= figures["utilisation"] <= 1 and 0 <= figures["idle_hours_per_week"] <= 168
    # Its free slots of the coming week, each counted at its hour's measured idle time.
    assert 0 <= figures["idle_hours_next_week"] <= 168
