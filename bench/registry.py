"""Registry: GetDevice calls/s against 100,000 devices on PostgreSQL, compared with a bare
grpcio server answering a constant device of the same size, at 1 and 32 calls in flight;
AuthenticateDevice calls/s; and the p99 latency of a filtered ListDevices page.

Both servers run as processes of their own, driven by the same asyncio client, so
`ratio` (registry over bare, at 32 in flight) measures what the registry adds: the median
of BENCH_ROUNDS rounds, each measuring the registry and then the bare server.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime

import grpc
from gantry.v1 import common_pb2, registry_pb2_grpc
from gantry.v1 import registry_pb2 as pb

from services.kit.bus import ConfirmingPublisher
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.registry import storage
from services.registry.domain import DEVICE_TOKEN_PREFIX, Device, DeviceCredential, DeviceState, issue_secret
from services.registry.queries.credentials import add_credentials
from services.registry.queries.devices import add_devices
from services.registry.usecases.profiles import Profiles
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database
from tests.support.platform import ROOT, free_port, grpc_serving
from tests.support.registry import insert_tenant
from tests.support.waiting import eventually

DEVICES = int(os.environ.get("BENCH_REGISTRY_DEVICES", "100000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SITES = [f"Site-{i}" for i in range(20)]
CHUNK = 5000


def seed(store: Store) -> tuple[str, list[str], list[str]]:
    """A tenant with DEVICES devices across SITES, one token each; returns ids and tokens."""
    tenant = insert_tenant(store)
    profile = Profiles(store.unit_of_work).create(
        tenant,
        {
            "name": "VMC",
            "channels": [{"key": "spindle_temp", "value_type": "float", "sample_interval_ms": 1000}],
        },
    )
    now = datetime.now(UTC)
    device_ids, tokens = [], []
    for start in range(0, DEVICES, CHUNK):
        devices, credentials = [], []
        for index in range(start, min(start + CHUNK, DEVICES)):
            device = Device(
                str(uuid.uuid4()),
                tenant,
                f"CNC-{index:06d}",
                f"Machining centre {index}",
                DeviceState.ACTIVE,
                1,
                profile.id,
                1,
                SITES[index % len(SITES)],
                f"line-{index % 7}",
                {"cell": f"c{index % 50}"},
                {"controller": "Fanuc 0i-MF"},
                "4.2.1",
                now,
                now,
            )
            secret = issue_secret(DEVICE_TOKEN_PREFIX, str(uuid.uuid4()))
            devices.append(device)
            credentials.append(DeviceCredential(secret.id, tenant, device.id, secret.secret_hash, now))
            device_ids.append(device.id)
            tokens.append(secret.presented)
        with store.engine.begin() as connection:
            add_devices(connection, devices)
            add_credentials(connection, credentials)
    return tenant, device_ids, tokens


async def rate(
    call: Callable[[int], Awaitable[object]], in_flight: int, latencies: list[float] | None = None
) -> float:
    """Calls completed per second by `in_flight` concurrent callers over SECONDS."""
    deadline = time.perf_counter() + SECONDS
    done = 0

    async def caller(worker: int) -> None:
        nonlocal done
        index = worker
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call(index)
            if latencies is not None:
                latencies.append(time.perf_counter() - started)
            done += 1
            index += in_flight

    started = time.perf_counter()
    await asyncio.gather(*(caller(w) for w in range(in_flight)))
    return done / (time.perf_counter() - started)


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    eventually(lambda: grpc_serving(f"127.0.0.1:{port}"), 30, f"{command} to serve")
    return process


async def measure(
    registry_port: int, bare_port: int, tenant: str, device_ids: list[str], tokens: list[str]
) -> dict:
    figures: dict[str, float] = {}
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{registry_port}") as real,
        grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}") as bare,
    ):
        stubs = {
            "registry": registry_pb2_grpc.RegistryServiceStub(real),
            "bare": registry_pb2_grpc.RegistryServiceStub(bare),
        }
        shuffled = random.sample(device_ids, len(device_ids))

        def get_device(stub: registry_pb2_grpc.RegistryServiceStub) -> Callable[[int], Awaitable[object]]:
            return lambda i: stub.GetDevice(
                pb.GetDeviceRequest(tenant_id=tenant, device_id=shuffled[i % len(shuffled)])
            )

        for name, stub in stubs.items():
            figures[f"{name}_get_device_per_s_1"] = round(await rate(get_device(stub), 1))
        # Rounds alternate between the two servers, so that what else loads the machine
        # weighs on both alike; each round's ratio compares neighbours in time.
        rates: dict[str, list[float]] = {name: [] for name in stubs}
        for _ in range(ROUNDS):
            for name, stub in stubs.items():
                rates[name].append(await rate(get_device(stub), 32))
        for name, measured in rates.items():
            figures[f"{name}_get_device_per_s_32"] = round(statistics.median(measured))
        ratios = [real / bare for real, bare in zip(rates["registry"], rates["bare"], strict=True)]
        figures["ratio"] = round(statistics.median(ratios), 3)
        figures["ratio_lowest"], figures["ratio_highest"] = round(min(ratios), 3), round(max(ratios), 3)
        registry = stubs["registry"]
        hot_tokens = tokens[:1000]
        figures["authenticate_device_per_s_32"] = round(
            await rate(
                lambda i: registry.AuthenticateDevice(
                    pb.AuthenticateDeviceRequest(access_token=hot_tokens[i % len(hot_tokens)])
                ),
                32,
            )
        )
        latencies: list[float] = []
        await rate(
            lambda i: registry.ListDevices(
                pb.ListDevicesRequest(
                    tenant_id=tenant,
                    site=SITES[i % len(SITES)],
                    labels={"cell": f"c{i % 50}"},
                    page=common_pb2.PageRequest(page_size=50),
                )
            ),
            1,
            latencies,
        )
        latencies.sort()
        figures["list_devices_p99_ms"] = round(latencies[int(len(latencies) * 0.99)] * 1000, 2)
    return figures


def run() -> dict:
    with ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        topology = stack.enter_context(bus_namespace([]))
        upgrade("registry", database_url)
        publisher = ConfirmingPublisher(AMQP_URL, topology)
        store = Store("registry", storage.metadata, publisher, url=database_url)
        started = time.perf_counter()
        tenant, device_ids, tokens = seed(store)
        print(f"seeded {DEVICES} devices in {time.perf_counter() - started:.1f} s")
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
            "GANTRY_REGISTRY_DATABASE_URL": database_url,
            "GANTRY_BUS_NAMESPACE": topology.namespace,
            "GANTRY_METRICS_PORT": "0",
            "GANTRY_LOG_LEVEL": "WARNING",
        }
        registry_port, bare_port = free_port(), free_port()
        registry = start(
            [sys.executable, "-m", "services.registry.api"],
            {**env, "GANTRY_REGISTRY_GRPC_PORT": str(registry_port)},
            registry_port,
        )
        stack.callback(lambda: (registry.send_signal(signal.SIGTERM), registry.wait(20)))
        with grpc.insecure_channel(f"127.0.0.1:{registry_port}") as channel:
            device = registry_pb2_grpc.RegistryServiceStub(channel).GetDevice(
                pb.GetDeviceRequest(tenant_id=tenant, device_id=device_ids[0])
            )
        bare = start(
            [sys.executable, "-m", "bench._bare_grpc", str(bare_port), device.SerializeToString().hex()],
            env,
            bare_port,
        )
        stack.callback(lambda: (bare.send_signal(signal.SIGTERM), bare.wait(20)))
        store.close()
        publisher.close()
        figures = asyncio.run(measure(registry_port, bare_port, tenant, device_ids, tokens))

    figures["devices"] = DEVICES
    for name, value in figures.items():
        print(f"{name:36} {value}")
    return figures
