"""The MQTT adapter killed (SIGKILL) mid-stream loses no acknowledged reading: paho devices
publish readings at QoS 1 and record each one PUBACKed; the adapter is killed and started
again, the devices reconnect (paho sends again what was in flight) and go on, and every
reading acknowledged is stored exactly once.

The platform is the e2e one (every Procfile process), on the shared local backends: this
fault is the adapter's alone."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest

from tests.faults.checks import stored_readings
from tests.support.client import PartnerClient
from tests.support.mqtt import TELEMETRY, known_device
from tests.support.platform import OPERATOR_TOKEN, Platform, running_platform
from tests.support.waiting import eventually

DEVICES = 3
# "Mid-stream": the kill comes once this many readings were acknowledged, and the devices
# must have this many more acknowledged after it.
READINGS_PER_STEP = 300
# Each device's pace: a reading every 5 ms at most (paho's window of 20 in flight bounds it too).
PACE_SECONDS = 0.005
STEP_TIMEOUT_SECONDS = 60
CATCH_UP_TIMEOUT_SECONDS = 30
CHANNEL = "spindle_temp"


class RecordingDevice:
    """A device streaming readings at QoS 1 on a thread of its own, each with a ts of its
    own, and what it was told: a reading is acknowledged once its PUBACK came."""

    def __init__(self, port: int, device: dict[str, str]) -> None:
        self.device_id = device["id"]
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"fault-{self.device_id[:8]}")
        self.client.username_pw_set(device["access_token"])
        # Reconnects soon after the adapter is back, as firmware would, a little later each try.
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        # The ts of each message id, and the ids PUBACKed: paho tells of a PUBACK by id,
        # also of one that came after it sent the message again on a new connection.
        self.sent: dict[int, int] = {}
        self.acked_ids: set[int] = set()
        self.client.on_publish = lambda _client, _data, mid, _code, _props: self.acked_ids.add(mid)
        self._stop = threading.Event()
        self._first_ts = time.time_ns() // 1_000_000
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._stream, daemon=True)
        self._thread.start()

    def _stream(self) -> None:
        sequence = 0
        while not self._stop.is_set():
            ts = self._first_ts + sequence
            body = orjson.dumps({"ts": ts, "values": {CHANNEL: float(sequence % 100)}})
            # Queued by paho while disconnected, sent once it connects again.
            self.sent[self.client.publish(TELEMETRY, body, qos=1).mid] = ts
            sequence += 1
            self._stop.wait(PACE_SECONDS)

    def acknowledged(self) -> set[int]:
        sent = dict(self.sent)
        return {sent[mid] for mid in set(self.acked_ids) if mid in sent}

    def all_acknowledged(self) -> bool:
        return set(self.sent) <= self.acked_ids

    def stop_streaming(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("mqtt-kill-logs")) as running:
        yield running


def acknowledged_count(devices: list[RecordingDevice]) -> int:
    return sum(len(device.acknowledged()) for device in devices)


def test_the_adapter_killed_mid_stream_loses_no_acknowledged_reading(
    platform: Platform, tmp_path: Path
) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    tenant = operator.as_tenant(operator.create_tenant("Killed Adapter Works")["api_key"])
    registered = [known_device(platform, tenant) for _ in range(DEVICES)]
    devices = [RecordingDevice(platform.mqtt_port, device) for device in registered]
    try:
        eventually(
            lambda: acknowledged_count(devices) >= READINGS_PER_STEP,
            STEP_TIMEOUT_SECONDS,
            "readings acknowledged",
        )
        before = acknowledged_count(devices)
        platform.kill("mqtt")
        # Sent and not yet acknowledged as the adapter died: paho sends them again.
        in_flight = sum(len(d.sent) - len(d.acked_ids) for d in devices)
        killed_at = time.monotonic()
        platform.restart("mqtt")
        eventually(
            lambda: acknowledged_count(devices) >= before + READINGS_PER_STEP,
            STEP_TIMEOUT_SECONDS,
            "the devices to reconnect and go on",
        )
        recovered_seconds = time.monotonic() - killed_at
        for device in devices:
            device.stop_streaming()
        # What was in flight is sent again by paho and acknowledged.
        eventually(
            lambda: all(device.all_acknowledged() for device in devices),
            CATCH_UP_TIMEOUT_SECONDS,
            "every reading sent to be acknowledged",
        )
    finally:
        for device in devices:
            device.stop_streaming()
            device.close()
    acknowledged = {(d.device_id, CHANNEL, ts) for d in devices for ts in d.acknowledged()}
    database = platform.env["GANTRY_TELEMETRY_DATABASE_URL"]

    def all_stored() -> bool:
        stored = stored_readings(database, [d.device_id for d in devices])
        return acknowledged <= stored.keys()

    eventually(all_stored, CATCH_UP_TIMEOUT_SECONDS, "every acknowledged reading to be stored")
    # known_device's own reading (another channel) aside.
    stored = Counter(
        {
            key: n
            for key, n in stored_readings(database, [d.device_id for d in devices]).items()
            if key[1] == CHANNEL
        }
    )
    sent = {(d.device_id, CHANNEL, ts) for d in devices for ts in d.sent.values()}
    assert {key: count for key, count in stored.items() if count != 1} == {}
    assert stored.keys() <= sent
    print(
        f"mqtt SIGKILL: {before} readings acknowledged before, {len(acknowledged)} in all, "
        f"{in_flight} in flight at the kill; devices streaming again {recovered_seconds:.1f}s after the kill"
    )
