"""Telemetry ingest: readings/s through the public path (gRPC `Ingest` → broker with
confirms → writer → PostgreSQL), timed until every reading is queryable, against a
plain binary COPY of the same rows into an identically indexed table from one client.

1,000 devices x 10 float channels x enough seconds for READINGS readings, sent by a
few concurrent clients as an edge gateway would: each request carries 100 devices
x 10 s. A reading is queryable when the `telemetry.batch_stored` event of its batch
is published, which the writer does right after the commit. Then, at half the
measured rate, the latency from each acknowledgement to queryable; then the same
volume through the gateway's `POST /v1/telemetry` as JSON (`http_ratio`); then the
same volume in columns of 100 devices x 100 s a request, through gRPC
`IngestColumnar` (`columnar_ratio`) and through `POST /v1/telemetry` as JSON
columns (`http_columnar_ratio`); and the writer's peak resident memory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import grpc
import httpx
import psycopg
from gantry.v1 import registry_pb2, registry_pb2_grpc
from gantry.v1 import telemetry_pb2 as pb

from bench._events import EventWatcher
from bench._http import http_rate, http_request
from bench._ingest_bodies import (
    CHANNELS,
    DEVICES_PER_REQUEST,
    SECONDS_PER_REQUEST,
    columnar_requests,
    json_bodies,
    json_column_bodies,
    reference_rows,
    requests,
)
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.db import normalise_url
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.telemetry import bus as telemetry_bus
from services.telemetry import storage
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database
from tests.support.platform import ROOT, free_port, grpc_serving
from tests.support.telemetry import stored_count, teach_device
from tests.support.waiting import eventually

READINGS = int(os.environ.get("BENCH_INGEST_READINGS", "2000000"))
DEVICES = int(os.environ.get("BENCH_INGEST_DEVICES", "1000"))
CLIENTS = 4
LATENCY_REQUESTS = 200
LATENCY_SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
INGEST_PATH = "/gantry.v1.TelemetryService/Ingest"
COLUMNAR_PATH = "/gantry.v1.TelemetryService/IngestColumnar"


class StoredCounter:
    """Counts the readings announced by `telemetry.batch_stored`, on a thread of its own."""

    def __init__(self, topology: Topology) -> None:
        self.total = 0
        self.announced: list[tuple[float, dict]] = []
        self._watcher = EventWatcher(topology, "telemetry.batch_stored", self._note)

    def _note(self, at: float, event: dict) -> None:
        devices = event["data"]["devices"]
        self.announced.append((at, devices[0]))
        self.total += sum(d["count"] for d in devices)

    def wait_for(self, total: int, timeout: float) -> float:
        eventually(lambda: self.total >= total, timeout, f"{total} readings stored (have {self.total})")
        return self.announced[-1][0]

    def close(self) -> None:
        self._watcher.close()


def send_all(target: str, bodies: list[bytes], path: str = INGEST_PATH) -> None:
    with grpc.insecure_channel(target) as channel:
        ingest = channel.unary_unary(path, response_deserializer=pb.IngestResponse.FromString)
        with ThreadPoolExecutor(CLIENTS) as pool:
            for response in pool.map(lambda body: ingest(body, timeout=60), bodies):
                assert response.rejected == 0, response.rejections[:3]


def paced(target: str, bodies: list[bytes], per_second: float) -> Iterator[tuple[float, pb.IngestRequest]]:
    """Sends `bodies` to `Ingest` at `per_second`, yielding when each was acknowledged, and
    what it was."""
    with grpc.insecure_channel(target) as channel:
        ingest = channel.unary_unary(INGEST_PATH, response_deserializer=pb.IngestResponse.FromString)
        started = time.perf_counter()
        for index, body in enumerate(bodies):
            time.sleep(max(0.0, started + index / per_second - time.perf_counter()))
            assert ingest(body, timeout=60).rejected == 0
            yield time.perf_counter(), pb.IngestRequest.FromString(body)


def paced_latencies(
    target: str, bodies: list[bytes], per_second: float, counter: StoredCounter
) -> list[float]:
    """Seconds from each acknowledgement to its batch being announced, sending at `per_second`."""
    acked: dict[tuple[str, str], float] = {}
    for at, request in paced(target, bodies, per_second):
        first = request.devices[0]
        ts = datetime.fromtimestamp(first.samples[0].ts_ms / 1000, UTC).isoformat()
        acked[(first.device_id, ts)] = at
    eventually(lambda: acked.keys() <= _keys(counter), 60, "every paced batch announced")
    announced = {(d["device_id"], d["first_ts"]): at for at, d in counter.announced}
    return sorted(announced[key] - at for key, at in acked.items())


def _keys(counter: StoredCounter) -> set[tuple[str, str]]:
    return {(d["device_id"], d["first_ts"]) for _, d in counter.announced}


# The reference: one row per reading with a primary key, as readings were stored before
# they were packed.
REFERENCE_TABLE = (
    "CREATE TABLE reference_readings (device_id uuid, channel text, ts timestamptz, retention_days int2,"
    " float_value float8, int_value int8, bool_value bool, text_value text,"
    " PRIMARY KEY (device_id, channel, ts, retention_days))"
)
REFERENCE_COLUMNS = "device_id, channel, ts, retention_days, float_value, int_value, bool_value, text_value"


def copy_reference(database_url: str, rows: list[tuple]) -> float:
    """Readings/s of one client's binary COPY into a one-row-per-reading table with a key."""
    with psycopg.connect(normalise_url(database_url).replace("+psycopg", "")) as connection:
        connection.execute(REFERENCE_TABLE)
        connection.commit()
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY reference_readings ({REFERENCE_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(("uuid", "text", "timestamptz", "int2", "float8", "int8", "bool", "text"))
            for row in rows:
                copy.write_row(row)
        connection.commit()
        return len(rows) / (time.perf_counter() - started)


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Platform:
    """telemetry-api, telemetry-writer, registry-api and the gateway on fresh databases."""

    def __init__(self, stack: ExitStack) -> None:
        self.topology = stack.enter_context(bus_namespace([telemetry_bus.READINGS.name]))
        urls = {service: stack.enter_context(postgres_database()) for service in ("telemetry", "registry")}
        for service, url in urls.items():
            upgrade(service, url)
        self.telemetry_url = urls["telemetry"]
        ports = {name: free_port() for name in ("telemetry", "registry", "gateway")}
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
            "GANTRY_BUS_NAMESPACE": self.topology.namespace,
            "GANTRY_METRICS_PORT": "0",
            "GANTRY_LOG_LEVEL": "WARNING",
            "GANTRY_OPERATOR_TOKEN": "bench-operator",
            "GANTRY_GATEWAY_PORT": str(ports["gateway"]),
            "GANTRY_RATE_LIMIT_KEY_PER_SECOND": "1000000",
            "GANTRY_RATE_LIMIT_KEY_BURST": "1000000",
        }
        for service in ("telemetry", "registry"):
            env[f"GANTRY_{service.upper()}_DATABASE_URL"] = urls[service]
            env[f"GANTRY_{service.upper()}_GRPC_PORT"] = str(ports[service])
            env[f"GANTRY_{service.upper()}_GRPC_TARGET"] = f"127.0.0.1:{ports[service]}"
        self.processes = {
            name: start(command, env)
            for name, command in {
                "telemetry-api": [sys.executable, "-m", "services.telemetry.api"],
                "telemetry-writer": [sys.executable, "-m", "services.telemetry.writer"],
                "registry-api": [sys.executable, "-m", "services.registry.api"],
                "gateway": [sys.executable, "-m", "services.gateway"],
            }.items()
        }
        for process in self.processes.values():
            stack.callback(lambda p=process: (p.send_signal(signal.SIGTERM), p.wait(20)))
        self.telemetry = f"127.0.0.1:{ports['telemetry']}"
        self.gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        for target in (self.telemetry, f"127.0.0.1:{ports['registry']}"):
            eventually(lambda t=target: grpc_serving(t), 30, f"{target} to serve")
        eventually(lambda: _answers(f"{self.gateway_url}/healthz"), 30, "the gateway to serve")
        with grpc.insecure_channel(f"127.0.0.1:{ports['registry']}") as channel:
            created = registry_pb2_grpc.RegistryServiceStub(channel).CreateTenant(
                registry_pb2.CreateTenantRequest(
                    name="Ingest Bench Works", country="CN", size_class=registry_pb2.SIZE_CLASS_SMALL
                )
            )
        self.tenant, self.api_key = created.tenant.id, created.api_key


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def timed_until_queryable(
    counter: StoredCounter, readings: int, send: Callable[[], None]
) -> tuple[float, float]:
    """Readings/s acknowledged and readings/s queryable of what `send` sends."""
    already = counter.total
    started = time.perf_counter()
    send()
    acknowledged = time.perf_counter()
    queryable = counter.wait_for(already + readings, timeout=600)
    return readings / (acknowledged - started), readings / (queryable - started)


def posted(platform: Platform, counter: StoredCounter, readings: int, bodies: list[bytes]) -> float:
    """Readings/s queryable of JSON `bodies` sent to the gateway's `POST /v1/telemetry`."""
    posts = [http_request("POST", "/v1/telemetry", platform.api_key, body) for body in bodies]
    _, queryable = timed_until_queryable(
        counter,
        readings,
        lambda: asyncio.run(http_rate(platform.gateway_url, posts, CLIENTS, calls=len(posts))),
    )
    return queryable


def run() -> dict:
    seconds = max(SECONDS_PER_REQUEST, READINGS // (DEVICES * len(CHANNELS)))
    with ExitStack() as stack:
        platform = Platform(stack)
        publisher = ConfirmingPublisher(AMQP_URL, platform.topology)
        stack.callback(publisher.close)
        store = Store("telemetry", storage.metadata, publisher, url=platform.telemetry_url)
        stack.callback(store.close)
        tenant = platform.tenant
        devices = [teach_device(store, tenant, channels=CHANNELS) for _ in range(DEVICES)]
        counter = StoredCounter(platform.topology)
        stack.callback(counter.close)

        requests_per_block = -(-DEVICES // DEVICES_PER_REQUEST)
        paced_seconds = SECONDS_PER_REQUEST * -(-LATENCY_REQUESTS // requests_per_block)
        # Every phase in the past, so that no reading is refused as from the future.
        start_ms = (int(time.time()) - 4 * seconds - paced_seconds - 60) * 1000
        bodies = list(requests(tenant, devices, start_ms, seconds))
        total = seconds * DEVICES * len(CHANNELS)
        print(f"{len(bodies)} requests, {total} readings")
        acknowledged_rate, platform_rate = timed_until_queryable(
            counter, total, lambda: send_all(platform.telemetry, bodies)
        )
        stored = stored_count(store)
        assert stored == total, f"{stored} stored of {total}"

        paced = list(requests(tenant, devices, start_ms + 1000 * seconds, paced_seconds))[:LATENCY_REQUESTS]
        per_second = platform_rate / 2 / (total / len(bodies))
        # At most LATENCY_SECONDS of pacing, however slow the rate of a small run.
        paced = paced[: max(10, min(len(paced), int(per_second * LATENCY_SECONDS)))]
        latencies = paced_latencies(platform.telemetry, paced, per_second, counter)

        phase_ms = [start_ms + 1000 * (paced_seconds + phase * seconds) for phase in (1, 2, 3)]
        later = list(requests(tenant, devices, phase_ms[0], seconds))
        http_rate_queryable = posted(platform, counter, total, json_bodies(later))
        columns = list(columnar_requests(tenant, devices, phase_ms[1], seconds))
        columnar_acknowledged, columnar_rate = timed_until_queryable(
            counter, total, lambda: send_all(platform.telemetry, columns, COLUMNAR_PATH)
        )
        columns = list(columnar_requests(tenant, devices, phase_ms[2], seconds))
        http_columnar_rate = posted(platform, counter, total, json_column_bodies(columns))
        writer_peak = peak_memory_mib(platform.processes["telemetry-writer"].pid)
        reference_rate = copy_reference(platform.telemetry_url, reference_rows(bodies, 365))

    figures = {
        "readings": total,
        "platform_readings_per_s": round(platform_rate),
        "acknowledged_readings_per_s": round(acknowledged_rate),
        "http_readings_per_s": round(http_rate_queryable),
        "copy_readings_per_s": round(reference_rate),
        "ratio": round(platform_rate / reference_rate, 3),
        "http_ratio": round(http_rate_queryable / reference_rate, 3),
        "columnar_readings_per_s": round(columnar_rate),
        "columnar_acknowledged_readings_per_s": round(columnar_acknowledged),
        "http_columnar_readings_per_s": round(http_columnar_rate),
        "columnar_ratio": round(columnar_rate / reference_rate, 3),
        "http_columnar_ratio": round(http_columnar_rate / reference_rate, 3),
        "ack_to_queryable_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "ack_to_queryable_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "writer_peak_rss_mib": round(writer_peak, 1),
    }
    for name, value in figures.items():
        print(f"{name:38} {value}")
    return figures
