"""Simulated MQTT machines for `make run`, beside the simulated factory (tools/simulate.py)
and in its tenant: one machining centre speaking ThingsBoard's MQTT device API with its own
access token, and an edge gateway speaking ThingsBoard's gateway API for two more, which
the platform registers as the gateway first names them. Their readings come from the
factory's generators (`Machine`), once a second, at QoS 1; paho reconnects them when the
adapter restarts, and the gateway then connects its machines again.

The devices are registered once and remembered in var/simulated-mqtt-machines-v1.json.

Usage: python tools/simulate_mqtt.py   (GANTRY_GATEWAY_PORT, GANTRY_MQTT_PORT, GANTRY_DATA_DIR)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho

from tools.partner_api import bearer, ok
from tools.simulate import MACHINES, SITE, STATE_VERSION, Factory, Machine, wait_ready

STATE_FILE = "simulated-mqtt-machines-v1.json"
DEVICE_SERIAL = "VMC-101"
GATEWAY_SERIAL = "EDGE-01"
GATEWAY_MACHINES = ("VMC-201", "VMC-202")
# How long to wait for the simulated factory's tenant, which tools/simulate.py makes.
FACTORY_TIMEOUT_SECONDS = 300
TELEMETRY = "v1/devices/me/telemetry"


@dataclass
class MqttMachines:
    tenant_id: str
    device_token: str
    gateway_token: str


def wait_for_factory(state: Path) -> Factory:
    """The simulated factory, once tools/simulate.py has set it up."""
    deadline = time.monotonic() + FACTORY_TIMEOUT_SECONDS
    while not state.exists():
        if time.monotonic() > deadline:
            raise SystemExit("simulated MQTT machines: no simulated factory to join")
        time.sleep(1)
    return Factory(**json.loads(state.read_text()))


def open_machines(http: httpx.Client, factory: Factory, state: Path) -> MqttMachines:
    """The machines of an earlier run if they are the factory's and their token works, else new ones."""
    key = bearer(factory.api_key)
    if state.exists():
        with contextlib.suppress(TypeError):
            known = MqttMachines(**json.loads(state.read_text()))
            works = http.get(f"/api/v1/{known.device_token}/attributes").status_code == 200
            if known.tenant_id == factory.tenant_id and works:
                return known
    profile_id = ok(http.get(f"/v1/devices/{factory.devices[0]['id']}", headers=key))["profile_id"]
    device, gateway = (
        registered(
            http, key, {"serial_number": serial, "display_name": name, "profile_id": profile_id, "site": SITE}
        )
        for serial, name in ((DEVICE_SERIAL, "Machining centre (MQTT)"), (GATEWAY_SERIAL, "Edge gateway"))
    )
    # The gateway names the profile of the machines behind it (ThingsBoard's gateway API).
    patch = {"attributes": {"gateway_profile_id": profile_id}}
    ok(
        http.patch(
            f"/v1/devices/{gateway['id']}", headers={**key, "If-Match": f'"{gateway["version"]}"'}, json=patch
        )
    )
    machines = MqttMachines(factory.tenant_id, device["access_token"], gateway["access_token"])
    state.write_text(json.dumps(asdict(machines)))
    state.chmod(0o600)
    return machines


def registered(http: httpx.Client, key: dict[str, str], body: dict[str, str]) -> dict[str, Any]:
    """The device of `body` with an access token: registered, or, registered by an earlier run
    whose state is lost, given a new token."""
    found = ok(http.get("/v1/devices", headers=key, params={"q": body["serial_number"]}))["items"]
    same = [d for d in found if d["serial_number"] == body["serial_number"]]
    if not same:
        return ok(http.post("/v1/devices", headers=key, json=body))
    token = ok(http.post(f"/v1/devices/{same[0]['id']}/credentials", headers=key, json={}))["access_token"]
    return {**same[0], "access_token": token}


def connected_client(port: int, token: str, on_connect: Any = None) -> paho.Client:
    """A paho client looping on its own thread; it connects again whenever it is cut off."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"sim-{token[-8:]}")
    client.username_pw_set(token)
    client.reconnect_delay_set(1, 10)
    if on_connect is not None:
        client.on_connect = on_connect
    client.connect_async("127.0.0.1", port, keepalive=30)
    client.loop_start()
    return client


def gateway_client(port: int, token: str) -> paho.Client:
    """The edge gateway: it connects its machines each time it connects itself."""

    def connect_machines(client: paho.Client, *_: Any) -> None:
        for name in GATEWAY_MACHINES:
            client.publish("v1/gateway/connect", json.dumps({"device": name}), qos=1)

    return connected_client(port, token, connect_machines)


def stream(device: paho.Client, gateway: paho.Client, ticks: int | None = None) -> None:
    """One reading of each machine a second, at QoS 1; paho keeps what it could not send yet."""
    first = MACHINES + 1
    machine, *behind = (Machine(first + i) for i in range(1 + len(GATEWAY_MACHINES)))
    tick = 0
    while ticks is None or tick < ticks:
        started = time.monotonic()
        now_ms = time.time_ns() // 1_000_000
        if device.is_connected():
            device.publish(TELEMETRY, json.dumps(machine.sample(now_ms)), qos=1)
        if gateway.is_connected():
            readings = {name: [m.sample(now_ms)] for name, m in zip(GATEWAY_MACHINES, behind, strict=True)}
            gateway.publish("v1/gateway/telemetry", json.dumps(readings), qos=1)
        tick += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = os.environ.get("GANTRY_GATEWAY_PORT", "8080")
    mqtt_port = int(os.environ.get("GANTRY_MQTT_PORT", "1884"))
    data = Path(os.environ.get("GANTRY_DATA_DIR", "var"))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        wait_ready(http)
        factory = wait_for_factory(data / f"simulated-factory-v{STATE_VERSION}.json")
        machines = open_machines(http, factory, data / STATE_FILE)
    device = connected_client(mqtt_port, machines.device_token)
    gateway = gateway_client(mqtt_port, machines.gateway_token)
    print(
        f"simulated MQTT machines: {DEVICE_SERIAL} on the device API, {', '.join(GATEWAY_MACHINES)} "
        f"behind {GATEWAY_SERIAL} on the gateway API, streaming once a second.\n"
        f"  Try: mosquitto_pub -h 127.0.0.1 -p {mqtt_port} -q 1 -u {machines.device_token} "
        f"-t {TELEMETRY} -m '{{\"spindle_temp\": 44.0}}'",
        flush=True,
    )
    try:
        stream(device, gateway)
    finally:
        for client in (device, gateway):
            client.disconnect()
            client.loop_stop()


if __name__ == "__main__":
    main()
