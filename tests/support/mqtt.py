"""MQTT for tests: an adapter process with settings of its own beside the platform's, a raw
client that speaks packets byte for byte (mqtt5's codec for 5.0, literal bytes for 3.1.1),
paho clients, and a self-signed certificate."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import mqtt5
import paho.mqtt.client as paho
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.client import PartnerClient
from tests.support.platform import ROOT, Platform, free_port, tcp_open
from tests.support.waiting import eventually

WAIT_SECONDS = 10.0
TELEMETRY = "v1/devices/me/telemetry"


def gateway_device(client: PartnerClient) -> dict[str, Any]:
    """A device naming the profile of the machines it brings (an edge gateway)."""
    device = client.register_device()
    patched = client.http.patch(
        f"/v1/devices/{device['id']}",
        json={"attributes": {"gateway_profile_id": client.profile_id()}},
        headers={"If-Match": f'"{device["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    return device


def known_device(platform: Platform, client: PartnerClient) -> dict[str, Any]:
    """A new device that telemetry has learned of, so that its first readings are taken."""
    device = client.register_device()
    url = f"{platform.gateway_url}/api/v1/{device['access_token']}/telemetry"
    eventually(
        lambda: httpx.post(url, json={"mode": "idle"}, timeout=10).status_code == 200,
        what="telemetry to learn of the device",
    )
    return device


@contextmanager
def adapter(
    platform: Platform, logs: Path, env: dict[str, str] | None = None, **settings: object
) -> Iterator[int]:
    """Another adapter process on the platform's backends (unless `env` points it elsewhere),
    with `GANTRY_MQTT_<NAME>` settings (e.g. rate_burst=5); yields its port."""
    port = free_port()
    env = {
        **platform.env,
        **(env or {}),
        "GANTRY_MQTT_PORT": str(port),
        "GANTRY_METRICS_PORT": "0",
        **{f"GANTRY_MQTT_{name.upper()}": str(value) for name, value in settings.items()},
    }
    with (logs / f"mqtt-{port}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.mqtt"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        eventually(lambda: process.poll() is None and tcp_open(port), 30, "the adapter to listen")
        yield port
    finally:
        process.terminate()
        process.wait(20)


def self_signed_pair(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "mqtt.crt", directory / "mqtt.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class RawClient:
    """A TCP connection that sends bytes and reads packets, with bounded waits."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def connect5(self, token: str | None, client_id: str = "raw-5") -> mqtt5.ConnAckPacket:
        self.send(mqtt5.ConnectPacket(client_id, username=token, clean_start=True, keep_alive=60).write())
        return self.packet5()

    def connect311(self, token: str | None, client_id: str = "raw-311") -> bytes:
        """Sends a 3.1.1 CONNECT; returns the CONNACK's four bytes."""
        user = b"" if token is None else len(token.encode()).to_bytes(2, "big") + token.encode()
        flags = 0x02 | (0x80 if token is not None else 0)
        body = b"\x00\x04MQTT\x04" + bytes((flags,)) + b"\x00\x3c" + _string(client_id) + user
        self.send(b"\x10" + bytes((len(body),)) + body)
        return self.read_exactly(4)

    def packet5(self) -> mqtt5.Packet:
        while True:
            try:
                packet, used = mqtt5.read(memoryview(self.buffer))
            except IndexError:
                self._receive()
                continue
            self.buffer = self.buffer[used:]
            return packet

    def read_exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._receive()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def closed_by_server(self) -> bool:
        """Whether the server closed the connection (after what it sent, read or not)."""
        try:
            while chunk := self.sock.recv(4096):
                self.buffer += chunk
        except ConnectionResetError:
            pass
        return True

    def _receive(self) -> None:
        chunk = self.sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk


def _string(text: str) -> bytes:
    return len(text.encode()).to_bytes(2, "big") + text.encode()


def publish311(topic: str, payload: bytes, qos: int = 0, packet_id: int = 1) -> bytes:
    body = _string(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes((0x30 | qos << 1,)) + bytes((len(body),)) + body


class PahoDevice:
    """A paho client of one protocol version, connected and looping on its own thread."""

    def __init__(self, port: int, token: str | None, version: int, ca_file: Path | None = None) -> None:
        protocol = paho.MQTTv5 if version == 5 else paho.MQTTv311
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=protocol)
        if token is not None:
            self.client.username_pw_set(token)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        self.answered = threading.Event()
        self.reason: paho.ReasonCode | None = None
        self.client.on_connect = self._on_connect
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert self.answered.wait(WAIT_SECONDS), "no CONNACK"

    def _on_connect(self, *args: object) -> None:
        self.reason = args[3]  # type: ignore[assignment]
        self.answered.set()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> paho.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(WAIT_SECONDS)
        assert info.is_published(), f"no PUBACK for {topic}"
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
