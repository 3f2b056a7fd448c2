"""Settings from `GANTRY_*` environment variables, read when asked for, never at import: those
every service has (broker, bus namespace, database, ports, logs). A service's own settings are
in its `settings.py`, read through `env`."""

from __future__ import annotations

import os
from pathlib import Path

SERVICES = ("registry", "telemetry", "marketplace", "analytics")

DEFAULT_GRPC_PORTS = {"registry": 50051, "telemetry": 50052, "marketplace": 50053, "analytics": 50054}

# Each process of the platform exposes Prometheus metrics on its own port so that
# all of them can run side by side on one machine; in a pod every process may use the same.
DEFAULT_METRICS_PORTS = {
    "registry-api": 9101,
    "telemetry-api": 9102,
    "marketplace-api": 9103,
    "analytics-api": 9104,
    "registry-worker": 9111,
    "telemetry-worker": 9112,
    "marketplace-worker": 9113,
    "analytics-worker": 9114,
    "telemetry-writer": 9122,
    "analytics-evaluator": 9123,
    "analytics-notifier": 9124,
    "gateway": 9105,
    "mqtt": 9106,
    "console": 9107,
}


def env(name: str, default: str) -> str:
    """The value of `GANTRY_<name>`, or the default when unset or empty."""
    return os.environ.get(f"GANTRY_{name}") or default


def flag(name: str) -> bool:
    """Whether `GANTRY_<name>` is set to a true value (1, true, yes, on); false when unset."""
    return env(name, "false").strip().lower() in ("1", "true", "yes", "on")


def data_dir() -> Path:
    return Path(env("DATA_DIR", "var"))


def amqp_url() -> str:
    return env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def bus_namespace() -> str:
    """Prefix of every exchange and queue name of this installation."""
    return env("BUS_NAMESPACE", "gantry")


def database_url(service: str) -> str:
    default = f"sqlite:///{data_dir() / (service + '.db')}"
    return env(f"{service.upper()}_DATABASE_URL", default)


def grpc_port(service: str) -> int:
    return int(env(f"{service.upper()}_GRPC_PORT", str(DEFAULT_GRPC_PORTS[service])))


def grpc_target(service: str) -> str:
    """Where clients reach a service's gRPC API."""
    return env(f"{service.upper()}_GRPC_TARGET", f"127.0.0.1:{grpc_port(service)}")


def grpc_max_connection_age_seconds() -> float:
    """How long a gRPC server keeps a client's connection before asking it to reconnect."""
    return float(env("GRPC_MAX_CONNECTION_AGE_SECONDS", "300"))


def grpc_workers() -> int:
    """Threads serving each gRPC server's calls. Few: the calls share one interpreter
    lock, so more threads add switching, not throughput (measured by bench/registry.py)."""
    return int(env("GRPC_WORKERS", "8"))


def bind_host() -> str:
    return env("BIND_HOST", "127.0.0.1")


def metrics_port(process: str) -> int:
    """0 turns the metrics endpoint off."""
    return int(env("METRICS_PORT", str(DEFAULT_METRICS_PORTS.get(process, 0))))


def log_level() -> str:
    return env("LOG_LEVEL", "INFO").upper()
