"""Gateway: what the HTTP/JSON front door costs over calling the services' gRPC directly.

On a running platform (every Procfile process, fresh PostgreSQL databases):
- `GET /v1/devices/{id}` requests/s through the gateway vs `GetDevice` straight to the
  registry's gRPC, both with 32 requests in flight (`ratio`);
- bulk ingest readings/s through `POST /v1/telemetry` vs gRPC `Ingest` of the same
  readings, both acknowledged by the broker, with a few concurrent clients
  (`ingest_ratio`).

The HTTP load comes from bench/_http.py's minimal keep-alive client, so that the
client's own parsing does not hide the gateway's. Every process logs at INFO, as in
production: the gateway's access line for each request included.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import grpc
import orjson
from gantry.v1 import registry_pb2, registry_pb2_grpc, telemetry_pb2_grpc
from gantry.v1 import telemetry_pb2 as pb

from bench._http import http_rate, http_request, rate
from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform, running_platform
from tests.support.waiting import eventually

DEVICES = int(os.environ.get("BENCH_GATEWAY_DEVICES", "100"))
INGEST_REQUESTS = int(os.environ.get("BENCH_GATEWAY_INGEST_REQUESTS", "40"))
IN_FLIGHT = 32
INGEST_CLIENTS = 4
SAMPLE_SECONDS = 10
CHANNELS = [f"ch{i}" for i in range(10)]
PROFILE = {
    "name": "Press line sensor pack",
    "channels": [{"key": key, "value_type": "float", "sample_interval_ms": 1000} for key in CHANNELS],
}


def ingest_batches(tenant: str, devices: list[str], count: int) -> list[dict]:
    start_ms = (int(time.time()) - 600 - count * SAMPLE_SECONDS) * 1000
    return [
        {
            "devices": [
                {
                    "device_id": device,
                    "samples": [
                        {
                            "ts": start_ms + 1000 * (n * SAMPLE_SECONDS + s),
                            "values": {key: float((n + s + i) % 500) for i, key in enumerate(CHANNELS)},
                        }
                        for s in range(SAMPLE_SECONDS)
                    ],
                }
                for device in devices
            ]
        }
        for n in range(count)
    ]


def as_protobuf(tenant: str, batch: dict) -> pb.IngestRequest:
    return pb.IngestRequest(
        tenant_id=tenant,
        devices=[
            pb.DeviceSamples(
                device_id=d["device_id"],
                samples=[
                    pb.Sample(
                        ts_ms=s["ts"], values={k: pb.Value(float_value=v) for k, v in s["values"].items()}
                    )
                    for s in d["samples"]
                ],
            )
            for d in batch["devices"]
        ],
    )


def setup(platform: Platform) -> tuple[str, str, list[str]]:
    """A tenant with DEVICES devices telemetry knows of; returns its id, admin key and devices."""
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    created = operator.create_tenant("Benchmark Works")
    client = operator.as_tenant(created["api_key"])
    profile = client.http.post("/v1/device-profiles", json=PROFILE).json()
    devices = []
    for index in range(DEVICES):
        body = {"serial_number": f"B-{index:05d}", "display_name": "Press", "profile_id": profile["id"]}
        devices.append(client.http.post("/v1/devices", json=body).json()["id"])
    probe = {
        "devices": [
            {"device_id": d, "samples": [{"ts": time.time(), "values": {"ch0": 1.0}}]} for d in devices
        ]
    }
    eventually(
        lambda: client.http.post("/v1/telemetry", json=probe).json()["rejected"] == 0,
        60,
        "telemetry to learn of every device",
    )
    return created["id"], created["api_key"], devices


async def measure(platform: Platform, tenant: str, api_key: str, devices: list[str]) -> dict[str, float]:
    figures: dict[str, float] = {}
    shuffled = random.sample(devices, len(devices))
    gets = [http_request("GET", f"/v1/devices/{d}", api_key) for d in shuffled]
    figures["gateway_get_device_per_s"] = round(await http_rate(platform.gateway_url, gets, IN_FLIGHT))
    async with grpc.aio.insecure_channel(platform.grpc_target("registry")) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        figures["grpc_get_device_per_s"] = round(
            await rate(
                lambda i: registry.GetDevice(
                    registry_pb2.GetDeviceRequest(tenant_id=tenant, device_id=shuffled[i % len(shuffled)])
                ),
                IN_FLIGHT,
            )
        )

    batches = ingest_batches(tenant, devices, INGEST_REQUESTS)
    readings = DEVICES * SAMPLE_SECONDS * len(CHANNELS)
    posts = [http_request("POST", "/v1/telemetry", api_key, orjson.dumps(b)) for b in batches]
    http_per_s = await http_rate(platform.gateway_url, posts, INGEST_CLIENTS, calls=len(posts))
    figures["gateway_ingest_readings_per_s"] = round(http_per_s * readings)
    protobufs = [as_protobuf(tenant, b) for b in batches]
    async with grpc.aio.insecure_channel(platform.grpc_target("telemetry")) as channel:
        telemetry = telemetry_pb2_grpc.TelemetryServiceStub(channel)
        grpc_per_s = await rate(
            lambda i: telemetry.Ingest(protobufs[i], timeout=60), INGEST_CLIENTS, len(protobufs)
        )
    figures["grpc_ingest_readings_per_s"] = round(grpc_per_s * readings)
    return figures


def run() -> dict:
    with tempfile.TemporaryDirectory() as logs, running_platform(Path(logs), log_level="INFO") as platform:
        tenant, api_key, devices = setup(platform)
        figures = asyncio.run(measure(platform, tenant, api_key, devices))
    figures["ratio"] = round(figures["gateway_get_device_per_s"] / figures["grpc_get_device_per_s"], 3)
    figures["ingest_ratio"] = round(
        figures["gateway_ingest_readings_per_s"] / figures["grpc_ingest_readings_per_s"], 3
    )
    for name, value in figures.items():
        print(f"{name:32} {value}")
    return figures
