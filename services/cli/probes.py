"""What each process of the platform says of itself: its metrics endpoint (every process
serves one while it runs), its readiness (an `-api`'s gRPC health, the gateway's
`/readyz`; the others have none), and the release it runs (`gantry_build_info`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from services.cli import settings
from services.kit.grpc_clients import SERVICE_NAMES
from services.kit.settings import grpc_target

SERVING = "SERVING"
READY = "ready"
# The figures of the two consumers of readings that say whether they keep up.
CONSUMER_FIGURES = {
    "telemetry-writer": ("gantry_telemetry_pending_readings", "gantry_telemetry_flush_failing_seconds"),
    "analytics-evaluator": ("gantry_analytics_pending_readings", "gantry_analytics_flush_failing_seconds"),
}
Samples = dict[str, float]


@dataclass
class ProcessHealth:
    process: str
    live: bool
    # SERVING, NOT_SERVING, ready, unavailable, or why it could not be asked; "-" for
    # processes without a readiness of their own.
    ready: str
    version: str
    figures: Samples = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.live and self.ready in (SERVING, READY, "-")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def probe_all() -> list[ProcessHealth]:
    with ThreadPoolExecutor(max_workers=len(settings.PROCESSES)) as pool:
        return list(pool.map(probe, settings.PROCESSES))


def probe(process: str) -> ProcessHealth:
    scraped = scrape(settings.metrics_url(process))
    samples, version = scraped if scraped else ({}, "-")
    figures = {name: samples[name] for name in CONSUMER_FIGURES.get(process, ()) if name in samples}
    return ProcessHealth(process, scraped is not None, readiness(process), version, figures)


def readiness(process: str) -> str:
    service, _, role = process.partition("-")
    if role == "api":
        return grpc_health(grpc_target(service), SERVICE_NAMES[service])
    if process == "gateway":
        return gateway_readiness(settings.gateway_url())
    return "-"


def grpc_health(target: str, service_name: str) -> str:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service_name), timeout=settings.HTTP_TIMEOUT_SECONDS
            )
        except grpc.RpcError as error:
            return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def gateway_readiness(base_url: str) -> str:
    try:
        reply = httpx.get(f"{base_url}/readyz", timeout=settings.HTTP_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return "UNAVAILABLE"
    if reply.status_code == httpx.codes.OK:
        return READY
    failing = [name for name, status in reply.json().get("checks", {}).items() if status != SERVING]
    return f"unavailable ({', '.join(failing)})"


def scrape(url: str) -> tuple[Samples, str] | None:
    """A process's unlabelled samples and the release it runs; None when it does not answer."""
    try:
        reply = httpx.get(url, timeout=settings.HTTP_TIMEOUT_SECONDS)
        reply.raise_for_status()
    except httpx.HTTPError:
        return None
    samples: Samples = {}
    version = "unknown"
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == "gantry_build_info":
                version = sample.labels.get("version", version)
            elif not sample.labels:
                samples[sample.name] = sample.value
    return samples, version
