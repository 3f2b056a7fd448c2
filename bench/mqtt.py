"""MQTT: readings acknowledged at QoS 1 through the adapter, beside the local Mosquitto.

DEVICES devices each hold a connection (paho, MQTT 3.1.1, up to INFLIGHT messages in
flight) and publish MESSAGES telemetry messages of 10 float channels at QoS 1 on
ThingsBoard's `v1/devices/me/telemetry`: readings per second until the last PUBACK.
The same clients then publish the same messages to the Mosquitto on 1883 in the same run
(`ratio` = adapter ÷ Mosquitto; Mosquitto keeps nothing, the adapter answers once
telemetry has the readings durably). Last, IDLE connections are opened with the devices'
tokens by THREADS threads and held: CONNACKs per second, and the adapter's resident memory
per connection (its growth over the idle connections).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import paho.mqtt.client as paho

from bench.gateway import PROFILE
from tests.support.client import PartnerClient
from tests.support.mqtt import TELEMETRY, RawClient
from tests.support.platform import OPERATOR_TOKEN, Platform, running_platform
from tests.support.waiting import eventually

DEVICES = int(os.environ.get("BENCH_MQTT_DEVICES", "100"))
MESSAGES = int(os.environ.get("BENCH_MQTT_MESSAGES", "200"))
IDLE = int(os.environ.get("BENCH_MQTT_IDLE", "10000"))
INFLIGHT = 20
THREADS = 8
MOSQUITTO_PORT = 1883
WAIT_SECONDS = 300.0


def tokens(platform: Platform) -> list[str]:
    """DEVICES devices of a new tenant that telemetry knows of; their access tokens."""
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    client = operator.as_tenant(operator.create_tenant("MQTT Works")["api_key"])
    profile = client.http.post("/v1/device-profiles", json=PROFILE).json()
    found = []
    for index in range(DEVICES):
        body = {"serial_number": f"M-{index:05d}", "display_name": "Press", "profile_id": profile["id"]}
        found.append(client.http.post("/v1/devices", json=body).json()["access_token"])
    probe = f"{platform.gateway_url}/api/v1/{found[-1]}/telemetry"
    eventually(
        lambda: client.http.post(probe, json={"ch0": 1.0}).status_code == 200, 60, "telemetry to learn"
    )
    return found


def payloads(device: int) -> list[bytes]:
    start_ms = (int(time.time()) - 3600) * 1000
    return [
        orjson.dumps(
            {"ts": start_ms + i * 1000, "values": {f"ch{c}": float(device + i + c) for c in range(10)}}
        )
        for i in range(MESSAGES)
    ]


def publishing_rate(port: int, users: list[str | None]) -> float:
    """Readings per second from the first publish to the last PUBACK of every client."""
    clients = [_connected(port, user) for user in users]
    messages = [payloads(index) for index in range(len(clients))]
    started = time.perf_counter()
    sent = [
        [client.publish(TELEMETRY, body, qos=1) for body in bodies]
        for client, bodies in zip(clients, messages, strict=True)
    ]
    for infos in sent:
        for info in infos:
            info.wait_for_publish(WAIT_SECONDS)
            assert info.is_published(), "a message was never acknowledged"
    elapsed = time.perf_counter() - started
    for client in clients:
        client.disconnect()
        client.loop_stop()
    return len(clients) * MESSAGES * 10 / elapsed


def _connected(port: int, user: str | None) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    if user is not None:
        client.username_pw_set(user)
    client.max_inflight_messages_set(INFLIGHT)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    assert connected.wait(30), "no CONNACK"
    return client


def idle_connections(platform: Platform, users: list[str]) -> tuple[float, float]:
    """Connects per second, and the adapter's resident KiB per connection."""
    before = resident_kib(platform.processes["mqtt"].pid)
    opened: list[RawClient] = []

    def connect(index: int) -> RawClient:
        client = RawClient(platform.mqtt_port)
        assert client.connect311(users[index % len(users)], f"idle-{index}")[3] == 0, "refused"
        return client

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        opened = list(pool.map(connect, range(IDLE)))
    rate = IDLE / (time.perf_counter() - started)
    per_connection = (resident_kib(platform.processes["mqtt"].pid) - before) / IDLE
    for client in opened:
        client.close()
    return rate, per_connection


def resident_kib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return float(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def run() -> dict:
    with tempfile.TemporaryDirectory() as logs, running_platform(Path(logs), log_level="INFO") as platform:
        users = tokens(platform)
        adapter_rate = publishing_rate(platform.mqtt_port, list(users))
        connect_rate, kib = idle_connections(platform, users)
    mosquitto_rate = publishing_rate(MOSQUITTO_PORT, [None] * len(users))
    figures = {
        "devices": DEVICES,
        "readings": DEVICES * MESSAGES * 10,
        "adapter_readings_per_s": round(adapter_rate),
        "mosquitto_readings_per_s": round(mosquitto_rate),
        "ratio": round(adapter_rate / mosquitto_rate, 3),
        "idle_connections": IDLE,
        "connects_per_s": round(connect_rate),
        "resident_kib_per_connection": round(kib, 2),
    }
    for name, value in figures.items():
        print(f"{name:30} {value}")
    return figures
