"""Starts the platform's processes from the Procfile, as operators run them, for end-to-end tests."""

from __future__ import annotations

import os
import random
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import grpc
import httpx
import orjson
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit.platform import consumer_queues
from services.kit.settings import SERVICES
from tests.support.backends import (
    AMQP_URL,
    POSTGRES_URL,
    REDIS_URL,
    bus_namespace,
    delete_redis_keys,
    postgres_database,
)
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_TOKEN = "test-operator-token"
STOP_TIMEOUT_SECONDS = 20


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def consumer_queue_names() -> list[str]:
    """The queue of every event handler of every worker, as the workers declare them."""
    return [queue.name for queue in consumer_queues(SERVICES)]


# Below the kernel's ephemeral range (32768-60999 on Linux): a port the kernel picks for
# bind(0) may, once the probe closes, be given to any outgoing connection (to PostgreSQL, to
# RabbitMQ) before the child process binds it, which then fails with "address in use".
_LISTENING_PORTS = range(20_000, 32_768)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, handed out once per test run."""
    start = random.randrange(len(_LISTENING_PORTS))
    for offset in range(len(_LISTENING_PORTS)):
        port = _LISTENING_PORTS[(start + offset) % len(_LISTENING_PORTS)]
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {_LISTENING_PORTS}")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Platform:
    """Every process of the Procfile, on free ports, its own databases and bus namespace."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.commands = procfile()
        self.processes: dict[str, subprocess.Popen] = {}
        self.grpc_ports = {service: int(env[f"GANTRY_{service.upper()}_GRPC_PORT"]) for service in SERVICES}
        self.gateway_url = f"http://127.0.0.1:{env['GANTRY_GATEWAY_PORT']}"
        self.mqtt_port = int(env["GANTRY_MQTT_PORT"])
        self.metrics_ports = {name: free_port() for name in self.commands}

    def grpc_target(self, service: str) -> str:
        return f"127.0.0.1:{self.grpc_ports[service]}"

    def start(self, name: str) -> None:
        env = {**self.env, "GANTRY_METRICS_PORT": str(self.metrics_ports[name])}
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            shlex.split(self.commands[name]), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM) -> int:
        process = self.processes.pop(name)
        process.send_signal(sig)
        try:
            return process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(
                f"{name} did not stop within {STOP_TIMEOUT_SECONDS}s of {sig.name}"
            ) from None

    def kill(self, name: str) -> int:
        """Ends a process at once, as the kernel's OOM killer or a node's loss would."""
        return self.stop(name, signal.SIGKILL)

    def restart(self, name: str, timeout: float = 60) -> None:
        """Starts a process that is not running, as a supervisor would, and waits until it
        is ready."""
        self.start(name)
        self.wait_ready([name], timeout)

    def alive(self, name: str) -> bool:
        return name in self.processes and self.processes[name].poll() is None

    def log_records(self, name: str, lines: int = 200) -> list[dict]:
        """The JSON log records among the last `lines` lines of a process's output."""
        records = []
        for line in self.log_tail(name, lines).splitlines():
            with suppress(ValueError):
                records.append(orjson.loads(line))
        return records

    def logged_request(self, name: str, request_id: str) -> bool:
        """Whether a process logged a line of the request `request_id` lately."""
        return any(record.get("request_id") == request_id for record in self.log_records(name))

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def wait_ready(self, names: list[str] | None = None, timeout: float = 60) -> None:
        for name in names or list(self.commands):
            eventually(lambda n=name: self.ready(n), timeout, f"{name} to be ready:\n{self.log_tail(name)}")

    def ready(self, name: str) -> bool:
        """Whether a process answers its health probe; fails if it has exited."""
        process = self.processes[name]
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
        service, _, role = name.partition("-")
        if name == "gateway":
            return _http_ok(f"{self.gateway_url}/healthz")
        if name == "mqtt":
            return tcp_open(self.mqtt_port)
        if role == "api":
            return grpc_serving(self.grpc_target(service))
        return _http_ok(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics")


def grpc_serving(target: str, service: str = "") -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=1
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def tcp_open(port: int) -> bool:
    """Whether something listens on `port` of this machine."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_platform(
    logs: Path, postgres_url: str = POSTGRES_URL, amqp_url: str = AMQP_URL, log_level: str = "DEBUG"
) -> Iterator[Platform]:
    """Migrates fresh databases on the PostgreSQL server of `postgres_url` (a role that
    may create databases), starts every process against the broker of `amqp_url` and
    stops them afterwards. Tests log at DEBUG, to follow each call's and each event's
    line by its request id; benchmarks at production's INFO."""
    with ExitStack() as stack:
        topology = stack.enter_context(bus_namespace(consumer_queue_names(), amqp_url))
        stack.callback(delete_redis_keys, f"{topology.namespace}:")
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
            "GANTRY_AMQP_URL": amqp_url,
            "GANTRY_BUS_NAMESPACE": topology.namespace,
            "GANTRY_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "GANTRY_GATEWAY_PORT": str(free_port()),
            "GANTRY_MQTT_PORT": str(free_port()),
            "GANTRY_CONSOLE_PORT": str(free_port()),
            "GANTRY_LOG_LEVEL": log_level,
            # Buckets in Redis as in production, but too large to slow the shared platform
            # down; tests/e2e/test_gateway_rate_limits.py starts gateways that limit.
            "GANTRY_REDIS_URL": REDIS_URL,
            # Webhook receivers of the tests listen on this machine, over http, as under `make run`.
            "GANTRY_ANALYTICS_WEBHOOKS_ALLOW_PRIVATE": "true",
            "GANTRY_ANALYTICS_WEBHOOKS_ALLOW_HTTP": "true",
            # Measurements and booked slots' evidence within a test's wait, not an hour's
            # or a minute's.
            "GANTRY_ANALYTICS_CAPACITY_SECONDS": "5",
            "GANTRY_ANALYTICS_EVIDENCE_SECONDS": "1",
            **{
                f"GANTRY_RATE_LIMIT_{kind}_{figure}": "100000"
                for kind in ("KEY", "DEVICE")
                for figure in ("PER_SECOND", "BURST")
            },
        }
        for service in SERVICES:
            env[f"GANTRY_{service.upper()}_DATABASE_URL"] = stack.enter_context(
                postgres_database(server_url=postgres_url)
            )
            port = free_port()
            env[f"GANTRY_{service.upper()}_GRPC_PORT"] = str(port)
            env[f"GANTRY_{service.upper()}_GRPC_TARGET"] = f"127.0.0.1:{port}"
        subprocess.run([sys.executable, "-m", "services.kit.migrate"], cwd=ROOT, env=env, check=True)
        platform = Platform(env, logs)
        try:
            for name in platform.commands:
                platform.start(name)
            platform.wait_ready()
            yield platform
        finally:
            for name in list(platform.processes):
                with suppress(AssertionError):
                    platform.stop(name)
