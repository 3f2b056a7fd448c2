"""Where the CLI finds the platform: the same `GANTRY_*` variables its processes read
(`services.kit.settings`), and a few of its own for what processes only serve."""

from __future__ import annotations

from services.kit.settings import DEFAULT_METRICS_PORTS, env

# The processes of the Procfile, each known by its metrics endpoint.
PROCESSES = tuple(DEFAULT_METRICS_PORTS)
HTTP_TIMEOUT_SECONDS = 2.0
GRPC_TIMEOUT_SECONDS = 10.0


def gateway_url() -> str:
    return env("GATEWAY_URL", f"http://127.0.0.1:{env('GATEWAY_PORT', '8080')}").rstrip("/")


def metrics_url(process: str) -> str:
    """`GANTRY_<PROCESS>_METRICS_URL` (`GANTRY_TELEMETRY_WRITER_METRICS_URL`), or the
    process's default port on this machine."""
    variable = f"{process.upper().replace('-', '_')}_METRICS_URL"
    return env(variable, f"http://127.0.0.1:{DEFAULT_METRICS_PORTS[process]}/metrics")


def rabbitmq_management_url() -> str:
    """The broker's management API (`http://user:password@host:15672`), the only source of
    unacknowledged counts; empty when it is not offered."""
    return env("RABBITMQ_MANAGEMENT_URL", "").rstrip("/")


def operator_token() -> str:
    return env("OPERATOR_TOKEN", "")
