"""Machine performance queries: how fast analytics answers ISO 22400 figures, through
`GetPerformance` on its gRPC server.

On a fresh PostgreSQL database, a tenant whose machines (one profile with a machine model)
work three shifts on weekdays in Europe/Berlin:
- one device with a year of quarter hours, asked for its figures per hour of that year
  (8,760 periods): `device_year_hourly_p50_ms` / `_p99_ms`;
- a fleet of 1,000 devices with a day of quarter hours each, asked for the fleet's
  figures per hour of that day: `fleet_day_hourly_p50_ms` / `_p99_ms`.

The quarters are written as the evaluator writes them (`add_quarters`), with varied
figures, rather than by streaming a year of readings: the benchmark times the queries.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from gantry.v1 import analytics_pb2 as pb

from bench._analytics_workload import CALENDAR, MACHINE_MODEL, SITE
from services.analytics.queries.performance import add_quarters
from services.analytics.storage import QUARTER_INPUTS, metadata
from services.analytics.usecases.plant_settings import PlantSettings
from services.kit.migrate import upgrade
from services.kit.protos import timestamp_fields
from services.kit.registry import ProfileChannel
from services.kit.store import Store
from tests.support.analytics import ProfileRegistry, analytics_server, teach_device
from tests.support.backends import postgres_database

DAYS = int(os.environ.get("BENCH_PERFORMANCE_DAYS", "365"))
DEVICES = int(os.environ.get("BENCH_PERFORMANCE_DEVICES", "1000"))
REPEATS = int(os.environ.get("BENCH_PERFORMANCE_REPEATS", "30"))
QUARTER = timedelta(minutes=15)
START = datetime(2026, 1, 5, tzinfo=UTC)
ROWS_PER_STATEMENT = 20_000


def quarter_row(device: str, tenant: str, start: datetime, rng: random.Random) -> dict[str, Any]:
    producing = rng.uniform(300, 900)
    setup = rng.uniform(0, 900 - producing)
    parts = producing // 30
    row = {name: 0.0 for name in QUARTER_INPUTS}
    row.update(
        device_id=device,
        tenant_id=tenant,
        site=SITE,
        start=start,
        apt=producing,
        asut=setup,
        adet=900 - producing - setup,
        operating=producing,
        pq=parts,
        sq=parts // 50,
        ideal_production=parts * 25,
        failures=int(rng.random() < 0.02),
        restorations=int(rng.random() < 0.02),
        restoration=rng.uniform(0, 900) if rng.random() < 0.02 else 0.0,
    )
    return row


def fill(store: Store, tenant: str, device: str, first: datetime, quarters: int, rng: random.Random) -> None:
    rows = [quarter_row(device, tenant, first + QUARTER * i, rng) for i in range(quarters)]
    for offset in range(0, len(rows), ROWS_PER_STATEMENT):
        with store.engine.begin() as connection:
            add_quarters(connection, rows[offset : offset + ROWS_PER_STATEMENT])


def timed_ms(query: Callable[[], Any]) -> tuple[float, float]:
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        query()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[len(timings) // 2], timings[min(len(timings) - 1, int(len(timings) * 0.99))]


def run() -> dict:
    rng = random.Random(22400)
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database())
        upgrade("analytics", url)
        store = Store("analytics", metadata, lambda messages: None, url=url)
        stack.callback(store.close)
        tenant = str(uuid.uuid4())
        registry = ProfileRegistry()
        profile = registry.profile(tenant, {f"ch{i}": ProfileChannel("float") for i in range(10)})
        settings = PlantSettings(store.unit_of_work, registry)
        settings.put_machine_model(tenant, profile, MACHINE_MODEL, 0)
        settings.put_site_calendar(tenant, SITE, CALENDAR, 0)
        long_lived = teach_device(store, tenant, profile, site=SITE)
        fill(store, tenant, long_lived, START, DAYS * 96, rng)
        fleet_day = START + timedelta(days=DAYS // 2)
        for _ in range(DEVICES):
            fill(store, tenant, teach_device(store, tenant, profile, site=SITE), fleet_day, 96, rng)
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
        print(f"{DAYS * 96} quarters of one device, {DEVICES * 96} of the fleet's day", flush=True)

        analytics = stack.enter_context(analytics_server(store, registry))
        year = timestamp_fields(start=START, end=START + timedelta(days=DAYS))
        by_device = pb.GetPerformanceRequest(
            tenant_id=tenant, device_id=long_lived, granularity=pb.GRANULARITY_HOUR, **year
        )
        device_p50, device_p99 = timed_ms(lambda: analytics.GetPerformance(by_device))
        day = timestamp_fields(start=fleet_day, end=fleet_day + timedelta(days=1))
        of_fleet = pb.GetPerformanceRequest(
            tenant_id=tenant, fleet=True, granularity=pb.GRANULARITY_HOUR, zone="Europe/Berlin", **day
        )
        fleet_p50, fleet_p99 = timed_ms(lambda: analytics.GetPerformance(of_fleet))

    figures = {
        "device_year_hours": DAYS * 24,
        "device_year_hourly_p50_ms": round(device_p50, 1),
        "device_year_hourly_p99_ms": round(device_p99, 1),
        "fleet_devices": DEVICES,
        "fleet_day_hourly_p50_ms": round(fleet_p50, 1),
        "fleet_day_hourly_p99_ms": round(fleet_p99, 1),
    }
    for name, value in figures.items():
        print(f"{name:32} {value}")
    return figures
