"""The console's plant pages on the whole platform (PostgreSQL, RabbitMQ): the p95 time of
the device list over DEVICES devices (its first page, a page 50,000 devices in by the
registry's cursor, a search by serial number prefix, a label filter), of a device's page,
and of a year of one channel for its chart.

The devices are registered through the registry's batch call, 5,000 at a time, by a
tenant made through sign-up, whose admin's real session the client carries. The year of
the charted channel is 365 day rollups loaded directly into telemetry's database, as
bench/query.py loads them, and telemetry is taught the charted device directly: the
consumers of the registry's events (workers, evaluator, writer) are stopped once the
platform is up, so that 100,000 `device.registered` events do not compete with the pages
for the two cores. Each page is asked for REPEATS times, one at a time, after a checked warm-up,
from a client on the same machine: the times are the console's answer as a browser on
the machine would wait for it.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
from gantry.v1 import common_pb2, registry_pb2, registry_pb2_grpc
from sqlalchemy import create_engine

from bench.query import FIRST_DAY, QUERIED_CHANNEL, RETENTION_DAYS, timings, year_of_days
from services.kit.db import normalise_url
from services.kit.store import Store
from services.telemetry import storage
from services.telemetry.queries import rollups as rollup_statements
from services.telemetry.queries.partitions import ensure_day_partitions
from tests.support.plant import PlantTenant, console_client, plant_tenant
from tests.support.platform import Platform, running_platform
from tests.support.telemetry import teach_device

DEVICES = int(os.environ.get("BENCH_CONSOLE_DEVICES", "100000"))
REPEATS = int(os.environ.get("BENCH_CONSOLE_REPEATS", "200"))
# The chart's range: a year, whatever size the query benchmark is run at.
CHART_DAYS = 365
CHUNK = 5000
DEEP = 50_000
# Consumers of events the pages do not need; stopped so that they do not compete.
QUIET = (
    "registry-worker",
    "telemetry-worker",
    "telemetry-writer",
    "marketplace-worker",
    "analytics-worker",
    "analytics-evaluator",
    "analytics-notifier",
    "mqtt",
)
CHANNELS = [{"key": QUERIED_CHANNEL, "value_type": "float", "unit": "degC", "sample_interval_ms": 1000}]


def register(registry: registry_pb2_grpc.RegistryServiceStub, tenant_id: str, profile_id: str) -> float:
    """DEVICES devices through RegisterDevices; returns devices per second."""
    started = time.perf_counter()
    for first in range(0, DEVICES, CHUNK):
        specs = [
            registry_pb2.DeviceSpec(
                serial_number=f"SN-{index:06d}",
                display_name=f"Machine {index}",
                profile_id=profile_id,
                labels={"line": f"L{index % 20}"},
            )
            for index in range(first, min(first + CHUNK, DEVICES))
        ]
        registry.RegisterDevices(
            registry_pb2.RegisterDevicesRequest(tenant_id=tenant_id, devices=specs), timeout=300
        )
    return DEVICES / (time.perf_counter() - started)


def analyze_registry(platform: Platform) -> None:
    """Statistics of the devices just registered, as autovacuum would gather them within a
    minute or so: without them the planner guesses at a search's and a label's share."""
    engine = create_engine(normalise_url(platform.env["GANTRY_REGISTRY_DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE devices")
            connection.exec_driver_sql("ANALYZE device_labels")
    finally:
        engine.dispose()


def deep_cursor(registry: registry_pb2_grpc.RegistryServiceStub, tenant_id: str) -> str:
    """The list's cursor after its first DEEP devices (page sizes are not bound to cursors)."""
    cursor = ""
    for _ in range(min(DEEP, DEVICES - 1) // 1000):
        page = common_pb2.PageRequest(page_size=1000, cursor=cursor)
        cursor = registry.ListDevices(
            registry_pb2.ListDevicesRequest(tenant_id=tenant_id, page=page)
        ).page.next_cursor
    return cursor


def load_year(platform: Platform, tenant_id: str, device_id: str) -> None:
    """Telemetry knows the device, and its channel has a year of day rollups."""
    store = Store(
        "telemetry",
        storage.metadata,
        lambda messages: None,
        url=platform.env["GANTRY_TELEMETRY_DATABASE_URL"],
    )
    try:
        teach_device(store, tenant_id, channels=CHANNELS, device_id=device_id)
        days = {(RETENTION_DAYS, (FIRST_DAY - timedelta(days=d)).date()) for d in range(CHART_DAYS + 1)}
        with store.engine.begin() as connection:
            ensure_day_partitions(connection, days)
            rollup_statements.add(connection, year_of_days(device_id, CHART_DAYS))
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE rollups")
    finally:
        store.close()


def pages(
    plant: PlantTenant, device_id: str, cursor: str
) -> dict[str, tuple[str, Callable[[httpx.Response], Any]]]:
    def listed(answer: httpx.Response) -> None:
        assert answer.status_code == 200 and answer.text.count('<a href="/devices/') >= 10, answer.text[:300]

    def year(answer: httpx.Response) -> None:
        assert answer.status_code == 200 and len(answer.json()["t"]) == CHART_DAYS, answer.text[:300]

    year_start = int((FIRST_DAY - timedelta(days=CHART_DAYS)).timestamp())
    return {
        "list_first_page": ("/devices", listed),
        "list_page_50000_in": (f"/devices?cursor={cursor}", listed),
        "list_search": ("/devices?q=SN-00", listed),
        "list_label": ("/devices?label=line%3DL7", listed),
        "device_page": (f"/devices/{device_id}", lambda answer: answer.raise_for_status()),
        "chart_year": (
            f"/devices/{device_id}/series?channel={QUERIED_CHANNEL}&from={year_start}&to={int(FIRST_DAY.timestamp())}",
            year,
        ),
    }


def run() -> dict:
    with running_platform(Path(tempfile.mkdtemp(prefix="bench-console-")), log_level="INFO") as platform:
        for name in QUIET:
            platform.stop(name)
        with grpc.insecure_channel(platform.grpc_target("registry")) as channel:
            plant = plant_tenant(channel, platform.gateway_url, "Bench Works")
            created = plant.partner.http.post(
                "/v1/device-profiles", json={"name": "VMC", "channels": CHANNELS}
            )
            assert created.status_code == 201, created.text
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            rate = register(registry, plant.tenant_id, created.json()["id"])
            print(f"registered {DEVICES} devices at {rate:,.0f}/s")
            analyze_registry(platform)
            first = registry.ListDevices(
                registry_pb2.ListDevicesRequest(
                    tenant_id=plant.tenant_id, page=common_pb2.PageRequest(page_size=1)
                )
            ).devices[0]
            cursor = deep_cursor(registry, plant.tenant_id)
        load_year(platform, plant.tenant_id, first.id)
        console = f"http://127.0.0.1:{platform.env['GANTRY_CONSOLE_PORT']}"
        with console_client(console, plant.admin) as client:
            latencies = {
                name: timings(lambda url=url, check=check: check(client.get(url)), REPEATS)
                for name, (url, check) in pages(plant, first.id, cursor).items()
            }

    figures: dict[str, Any] = {"devices": DEVICES, "register_devices_per_s": round(rate)}
    for name, measured in latencies.items():
        figures[f"{name}_median_ms"] = round(statistics.median(measured) * 1000, 2)
        figures[f"{name}_p95_ms"] = round(measured[int(len(measured) * 0.95)] * 1000, 2)
    for name, value in figures.items():
        print(f"{name:30} {value}")
    return figures
