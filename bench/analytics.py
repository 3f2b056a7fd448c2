"""Alarm rules on the live stream: how fast analytics-evaluator evaluates readings against
the platform's ingest rate, and how soon an alarm follows the reading that raises it.

1,000 devices x 10 float channels of one profile, each machine's saw-tooth readings a
second ahead of the one before (so that their alarms come at an even rate, not all at
once at moments set by the clock), in two workloads measured one after the other on a
fresh platform each (BENCH_ANALYTICS_WORKLOADS, both by default), their figures
prefixed by the workload's name:
- `alarms`: 10 rules, SIMPLE, DURATION, REPEATING and NO_DATA, 1-2 predicates each;
- `machines`: those, an ANOMALY detector on every channel, and the performance of every
  machine tracked (a machine model and a shift calendar).
Readings go through the public ingest path
(gRPC `Ingest` -> the readings exchange -> telemetry-writer's and analytics's queues),
with telemetry-writer storing them meanwhile, as in production:

- `ingest_readings_per_s`: readings/s acknowledged by ingest while both consumers run;
  `evaluation_lag_s`: how long after the last acknowledgement the evaluator was done.
- `evaluator_readings_per_s`: the evaluators (one per partition of the devices,
  BENCH_ANALYTICS_PARTITIONS, 2 by default) alone draining the same volume queued while they
  were stopped (the writer done first); `ratio` = that ÷ the ingest rate (1.0 or more:
  analytics keeps up with everything ingest accepts).
- At half the ingest rate, requests whose readings alternately meet and leave a SIMPLE
  rule: acknowledgement -> `alarm.raised` on the bus, p50 and p99.
- `ListAlarms` p99 over the alarms raised, and the evaluator's peak resident memory.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from contextlib import ExitStack
from typing import Any

import grpc
import httpx
import pika
from gantry.v1 import analytics_pb2 as analytics_pb
from gantry.v1 import analytics_pb2_grpc
from sqlalchemy import func, select

from bench._analytics_workload import (
    CALENDAR,
    CHANNELS,
    PROBE,
    PROBE_THRESHOLD,
    SECONDS_PER_REQUEST,
    SITE,
    WORKLOADS,
    Workload,
    alternating,
    requests,
    sawtooth,
)
from bench._events import EventWatcher
from bench.ingest import paced, peak_memory_mib, send_all, start
from services.analytics import bus as analytics_bus
from services.analytics import storage as analytics_storage
from services.analytics.partitions import Partition
from services.analytics.usecases.plant_settings import PlantSettings
from services.analytics.usecases.rules import Rules
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.consumers import ConsumerQueue
from services.kit.migrate import upgrade
from services.kit.registry import ProfileChannel
from services.kit.store import Store
from services.telemetry import bus as telemetry_bus
from services.telemetry import storage as telemetry_storage
from tests.support import analytics as analytics_support
from tests.support import telemetry as telemetry_support
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database
from tests.support.platform import ROOT, free_port, grpc_serving
from tests.support.waiting import eventually

READINGS = int(os.environ.get("BENCH_ANALYTICS_READINGS", "1000000"))
DEVICES = int(os.environ.get("BENCH_ANALYTICS_DEVICES", "1000"))
# Evaluators sharing the stream, one per partition of the devices.
PARTITIONS = int(os.environ.get("BENCH_ANALYTICS_PARTITIONS", "2"))
LATENCY_REQUESTS = int(os.environ.get("BENCH_ANALYTICS_LATENCY_REQUESTS", "100"))
MEASURED = os.environ.get("BENCH_ANALYTICS_WORKLOADS", ",".join(WORKLOADS)).split(",")
LISTINGS = 200


class RaisedAlarms:
    """When each `alarm.raised` of the probe rule reached the bus, by (device, reading ts)."""

    def __init__(self, topology: Topology) -> None:
        self.seen: dict[tuple[str, int], float] = {}
        self._watcher = EventWatcher(topology, "alarm.raised", self._note)

    def _note(self, at: float, event: dict[str, Any]) -> None:
        data = event["data"]
        if data["name"] == "probe":
            self.seen[(data["device_id"], data["reading"]["ts"])] = at

    def close(self) -> None:
        self._watcher.close()


class Evaluators:
    """analytics-evaluator as a process per partition of the devices, and what their
    metrics say they evaluated."""

    def __init__(self, env: dict[str, str]) -> None:
        self.ports = [free_port() for _ in range(PARTITIONS)]
        self.processes = [
            start(
                [sys.executable, "-m", "services.analytics.evaluator"],
                {**env, "GANTRY_METRICS_PORT": str(port), "GANTRY_ANALYTICS_PARTITION": str(index)},
            )
            for index, port in enumerate(self.ports)
        ]
        self.peak_mib = 0.0

    def evaluated(self) -> float:
        """Readings of batches every partition has handled: each evaluator handles every
        batch, applying its own devices' readings."""
        return min(_evaluated(port) for port in self.ports)

    def serving(self) -> bool:
        return all(_serving(port) for port in self.ports)

    def wait_for(self, total: int, timeout: float = 900) -> float:
        eventually(lambda: self.evaluated() >= total, timeout, f"{total} readings evaluated")
        return time.perf_counter()

    def stop(self) -> None:
        self.peak_mib = max(peak_memory_mib(process.pid) for process in self.processes)
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(30)


def declare_queues(topology: Topology, queues: list[ConsumerQueue]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        topology.declare(channel)
        for queue in queues:
            topology.declare_consumer_queue(channel, queue)
    finally:
        connection.close()


def _evaluated(port: int) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("gantry_analytics_readings_evaluated_total "):
            return float(line.split()[1])
    return 0.0


def _serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Platform:
    """telemetry-api, telemetry-writer, analytics-api and analytics-evaluator on fresh
    databases; devices and rules taught to both services directly."""

    def __init__(self, stack: ExitStack) -> None:
        readings = [Partition(index, PARTITIONS).queue for index in range(PARTITIONS)]
        queues = [
            telemetry_bus.READINGS.name,
            *(queue.name for queue in (*analytics_bus.queues(), *readings)),
        ]
        self.topology = stack.enter_context(bus_namespace(sorted(set(queues))))
        # Every partition's queue bound before the first batch: none may miss one.
        declare_queues(self.topology, readings)
        urls = {service: stack.enter_context(postgres_database()) for service in ("telemetry", "analytics")}
        for service, url in urls.items():
            upgrade(service, url)
        ports = {service: free_port() for service in ("telemetry", "analytics", "registry")}
        self.env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
            "GANTRY_BUS_NAMESPACE": self.topology.namespace,
            "GANTRY_METRICS_PORT": "0",
            "GANTRY_LOG_LEVEL": "WARNING",
            "GANTRY_ANALYTICS_PARTITIONS": str(PARTITIONS),
        }
        for service, port in ports.items():
            self.env[f"GANTRY_{service.upper()}_GRPC_PORT"] = str(port)
            self.env[f"GANTRY_{service.upper()}_GRPC_TARGET"] = f"127.0.0.1:{port}"
        for service, url in urls.items():
            self.env[f"GANTRY_{service.upper()}_DATABASE_URL"] = url
        publisher = ConfirmingPublisher(AMQP_URL, self.topology)
        stack.callback(publisher.close)
        self.telemetry_store = Store(
            "telemetry", telemetry_storage.metadata, publisher, url=urls["telemetry"]
        )
        self.analytics_store = Store(
            "analytics", analytics_storage.metadata, publisher, url=urls["analytics"]
        )
        stack.callback(self.telemetry_store.close)
        stack.callback(self.analytics_store.close)
        processes = {
            "telemetry-api": "services.telemetry.api",
            "telemetry-writer": "services.telemetry.writer",
            "analytics-api": "services.analytics.api",
        }
        for module in processes.values():
            process = start([sys.executable, "-m", module], self.env)
            stack.callback(lambda p=process: (p.send_signal(signal.SIGTERM), p.wait(30)))
        self.telemetry = f"127.0.0.1:{ports['telemetry']}"
        self.analytics = f"127.0.0.1:{ports['analytics']}"
        for target in (self.telemetry, self.analytics):
            eventually(lambda t=target: grpc_serving(t), 30, f"{target} to serve")

    def factory(self, workload: Workload) -> tuple[str, list[str]]:
        """A tenant with DEVICES devices of one profile watched by the workload's rules, their
        performance tracked by its machine model, if any, on CALENDAR."""
        tenant = str(uuid.uuid4())
        registry = analytics_support.ProfileRegistry()
        profile = registry.profile(tenant, {key: ProfileChannel("float") for key in CHANNELS})
        for definition in workload.rules:
            Rules(self.analytics_store.unit_of_work, registry).create(tenant, profile, definition)
        settings = PlantSettings(self.analytics_store.unit_of_work, registry)
        if workload.machine_model is not None:
            settings.put_machine_model(tenant, profile, workload.machine_model, 0)
        settings.put_site_calendar(tenant, SITE, CALENDAR, 0)
        channels = [{"key": key, "value_type": "float"} for key in CHANNELS]
        devices = []
        for _ in range(DEVICES):
            device = telemetry_support.teach_device(self.telemetry_store, tenant, channels=channels)
            analytics_support.teach_device(self.analytics_store, tenant, profile, device_id=device, site=SITE)
            devices.append(device)
        return tenant, devices


def paced_alarm_latencies(
    target: str, bodies: list[bytes], per_second: float, raised: RaisedAlarms
) -> list[float]:
    """Seconds from each acknowledgement to the `alarm.raised` of every device whose readings
    in it raise the probe's alarm."""
    acked: dict[tuple[str, int], float] = {}
    for at, request in paced(target, bodies, per_second):
        for device in request.devices:
            first = device.samples[0]
            if first.values[PROBE].float_value > PROBE_THRESHOLD:
                acked[(device.device_id, first.ts_ms)] = at
    eventually(lambda: acked.keys() <= raised.seen.keys(), 600, "every probe alarm raised")
    return sorted(raised.seen[key] - at for key, at in acked.items())


def listing_p99_ms(target: str, tenant: str) -> float:
    """ListAlarms of the tenant's newest alarms, 50 a page: p99 in ms."""
    with grpc.insecure_channel(target) as channel:
        analytics = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        request = analytics_pb.ListAlarmsRequest(tenant_id=tenant, page={"page_size": 50})
        timings = []
        for _ in range(LISTINGS):
            started = time.perf_counter()
            assert analytics.ListAlarms(request).alarms
            timings.append(time.perf_counter() - started)
    timings.sort()
    return timings[int(len(timings) * 0.99)] * 1000


def run() -> dict:
    figures = {}
    for name in MEASURED:
        print(f"-- workload {name}", flush=True)
        measured = measure(WORKLOADS[name])
        for figure, value in measured.items():
            print(f"{name}_{figure:32} {value}")
        figures.update({f"{name}_{figure}": value for figure, value in measured.items()})
    return figures


def measure(workload: Workload) -> dict:
    seconds = max(SECONDS_PER_REQUEST, READINGS // (DEVICES * len(CHANNELS)))
    seconds -= seconds % SECONDS_PER_REQUEST
    total = seconds * DEVICES * len(CHANNELS)
    with ExitStack() as stack:
        platform = Platform(stack)
        tenant, devices = platform.factory(workload)
        # Readings end near now, the latency phase a little after: NO_DATA rules watch
        # without firing, as on a plant whose machines all report.
        now_ms = int(time.time()) * 1000
        concurrent = list(requests(tenant, devices, now_ms - 2000 * seconds, seconds, sawtooth))
        drained = list(requests(tenant, devices, now_ms - 1000 * seconds, seconds, sawtooth))
        print(
            f"{len(concurrent)} requests, {total} readings per phase, {len(workload.rules)} rules per device"
        )

        evaluator = Evaluators(platform.env)
        eventually(lambda: evaluator.evaluated() == 0 and evaluator.serving(), 30, "the evaluators to start")
        started = time.perf_counter()
        send_all(platform.telemetry, concurrent)
        acknowledged = time.perf_counter()
        done = evaluator.wait_for(total)
        ingest_rate = total / (acknowledged - started)
        print(
            f"ingest {ingest_rate:.0f} readings/s; evaluation done {done - acknowledged:.2f} s after",
            flush=True,
        )
        evaluator.stop()

        send_all(platform.telemetry, drained)
        _wait_for_stored(platform.telemetry_store, 2 * total)
        evaluator = Evaluators(platform.env)
        eventually(evaluator.serving, 30, "the evaluators to start")
        started = time.perf_counter()
        evaluator_rate = total / (evaluator.wait_for(total) - started)
        print(f"evaluator alone {evaluator_rate:.0f} readings/s", flush=True)

        # Half load from a quiet start: the alarms of the drained backlog all published,
        # and none of them in the way of those timed.
        _wait_for_published(platform.analytics_store)
        raised = RaisedAlarms(platform.topology)
        stack.callback(raised.close)
        paced = list(
            requests(tenant, devices, now_ms + 1000, LATENCY_REQUESTS * SECONDS_PER_REQUEST, alternating)
        )
        paced = paced[: max(4, LATENCY_REQUESTS)]
        per_request = total / len(concurrent)
        latencies = paced_alarm_latencies(platform.telemetry, paced, ingest_rate / 2 / per_request, raised)
        listing_p99 = listing_p99_ms(platform.analytics, tenant)
        alarms = _count_alarms(platform.analytics_store)
        evaluator.stop()

    return {
        "readings": total,
        "rules_per_device": len(workload.rules),
        "ingest_readings_per_s": round(ingest_rate),
        "evaluation_lag_s": round(done - acknowledged, 2),
        "evaluator_readings_per_s": round(evaluator_rate),
        "ratio": round(evaluator_rate / ingest_rate, 3),
        "ack_to_alarm_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "ack_to_alarm_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "list_alarms_p99_ms": round(listing_p99, 1),
        "alarms_raised": alarms,
        "evaluator_peak_rss_mib": round(evaluator.peak_mib, 1),
    }


def _wait_for_stored(store: Store, total: int) -> None:
    """Until telemetry-writer has stored `total` readings."""

    eventually(
        lambda: telemetry_support.stored_count(store) >= total, 900, "telemetry-writer to store its backlog"
    )


def _wait_for_published(store: Store) -> None:
    outbox = analytics_storage.metadata.tables["outbox"]

    def published() -> bool:
        with store.engine.connect() as connection:
            query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            return connection.execute(query).scalar_one() == 0

    eventually(published, 300, "the evaluator's events published")


def _count_alarms(store: Store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(analytics_storage.alarms)).scalar_one()
