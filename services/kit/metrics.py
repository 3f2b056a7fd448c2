"""Prometheus metrics shared by every process; each process serves them on its own port."""

from __future__ import annotations

import logging
from importlib import metadata

from prometheus_client import Counter, Histogram, Info, start_http_server

from services.kit import settings

log = logging.getLogger(__name__)

GRPC_HANDLED = Counter("gantry_grpc_server_handled_total", "gRPC calls handled", ["method", "code"])
GRPC_LATENCY = Histogram("gantry_grpc_server_handling_seconds", "gRPC call duration", ["method"])
EVENTS_PUBLISHED = Counter("gantry_events_published_total", "Events confirmed by the broker", ["type"])
WORK_LOTS = Histogram(
    "gantry_bus_work_lot_messages",
    "Work messages published together, sharing one wait for the broker's confirms",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
EVENTS_CONSUMED = Counter(
    "gantry_events_consumed_total", "Events handled by a consumer", ["queue", "outcome"]
)
EVENT_LATENCY = Histogram("gantry_event_handling_seconds", "Event handling duration", ["queue"])
HTTP_HANDLED = Counter("gantry_http_requests_total", "HTTP requests answered", ["route", "status"])
HTTP_LATENCY = Histogram("gantry_http_request_seconds", "HTTP request duration", ["route"])
BUILD = Info("gantry_build", "The release of Gantry this process runs")


def version() -> str:
    """The release installed (`pip install -e .`, as `make setup` and the image do), or
    `unknown` when the project runs from its sources alone."""
    try:
        return metadata.version("gantry")
    except metadata.PackageNotFoundError:
        return "unknown"


def serve(process: str) -> None:
    """Starts the metrics HTTP endpoint of `process` unless its port is 0."""
    port = settings.metrics_port(process)
    BUILD.info({"version": version(), "process": process})
    if port:
        start_http_server(port, addr=settings.bind_host())
        log.info("metrics served", extra={"port": port})
