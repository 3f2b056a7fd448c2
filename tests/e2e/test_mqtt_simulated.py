"""The simulated MQTT machines of `make run`: a machine on ThingsBoard's device API and an
edge gateway with two machines on its gateway API join the simulated factory's tenant, and
their readings become queryable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from gantry.v1 import people_pb2_grpc

from tests.support.platform import OPERATOR_TOKEN, ROOT, Platform
from tests.support.waiting import eventually
from tools.simulate import PROFILE, STATE_VERSION, open_factory
from tools.simulate_mqtt import DEVICE_SERIAL, GATEWAY_MACHINES, STATE_FILE, open_machines


def test_the_mqtt_machines_readings_become_queryable(
    platform_people: people_pb2_grpc.PeopleServiceStub, platform: Platform, tmp_path: Path
) -> None:
    with httpx.Client(base_url=platform.gateway_url, timeout=10) as http:
        factory = open_factory(
            http, platform_people, OPERATOR_TOKEN, tmp_path / f"simulated-factory-v{STATE_VERSION}.json"
        )
        # Started again, the machines are the same devices.
        machines = open_machines(http, factory, tmp_path / STATE_FILE)
        assert open_machines(http, factory, tmp_path / STATE_FILE) == machines
        # Its state lost, the simulator finds its devices again and gives them new tokens.
        (tmp_path / STATE_FILE).unlink()
        again = open_machines(http, factory, tmp_path / STATE_FILE)
        assert again.tenant_id == machines.tenant_id and again.device_token != machines.device_token
        env = {
            **platform.env,
            "GANTRY_DATA_DIR": str(tmp_path),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")]),
        }
        with (tmp_path / "simulate_mqtt.log").open("wb") as log:
            simulator = subprocess.Popen(
                [sys.executable, "tools/simulate_mqtt.py"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        key = {"Authorization": f"Bearer {factory.api_key}"}

        def streaming(serial: str) -> bool:
            found = http.get("/v1/devices", headers=key, params={"q": serial}).json()["items"]
            if not found:
                return False
            latest = http.get(f"/v1/devices/{found[0]['id']}/telemetry/latest", headers=key)
            return latest.status_code == 200 and len(latest.json()["values"]) == len(PROFILE["channels"])

        try:
            for serial in (DEVICE_SERIAL, *GATEWAY_MACHINES):
                eventually(lambda serial=serial: streaming(serial), 60, f"readings of {serial} over MQTT")
            assert simulator.poll() is None, (tmp_path / "simulate_mqtt.log").read_text()
        finally:
            simulator.terminate()
            assert simulator.wait(20) == 0, (tmp_path / "simulate_mqtt.log").read_text()
