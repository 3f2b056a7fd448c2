"""telemetry-api reports its service NOT_SERVING while the broker does not take readings,
and SERVING again once it does, against the real RabbitMQ; the gateway's /readyz follows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit.bus import ConfirmingPublisher, PublishError, Topology, WorkMessage
from services.kit.grpc_server import build_server
from services.telemetry.api.readiness import BrokerReadiness, health_report
from services.telemetry.api.servicer import SERVICE_NAME
from services.telemetry.bus import READINGS
from tests.support.backends import AMQP_URL, bus_namespace
from tests.support.gateway import closed_target, gateway
from tests.support.platform import ROOT, free_port
from tests.support.telemetry import declare_readings_queue, delete_readings_queue
from tests.support.waiting import eventually

STOP_SECONDS = 20
# Long enough that only a failed publication, not the interval, can bring a check forward.
NEVER = 3600.0


def health_status(target: str, service: str = SERVICE_NAME) -> str:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def readyz_telemetry(target: str) -> tuple[int, str]:
    """The gateway's /readyz status and its check of telemetry at `target`."""
    with gateway(telemetry=target) as http:
        ready = http.get("/readyz")
    return ready.status_code, ready.json()["checks"]["telemetry"]


@pytest.fixture
def topology() -> Iterator[Topology]:
    with bus_namespace([READINGS.name]) as names:
        yield names


@contextmanager
def telemetry_health(publisher: ConfirmingPublisher, interval: float = 2.0) -> Iterator[str]:
    """A server answering telemetry's health as telemetry-api does, from `publisher`'s
    checks; yields its target."""
    server, servicer, port = build_server(lambda server: None, [SERVICE_NAME], 0)
    readiness = BrokerReadiness(lambda: publisher.check(READINGS.name), interval)
    publisher.on_failure = readiness.wake
    readiness.start(health_report(servicer, SERVICE_NAME))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        readiness.stop()
        server.stop(None)


def test_telemetry_api_is_not_serving_while_its_broker_is_unreachable(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "GANTRY_AMQP_URL": f"amqp://guest:guest@{closed_target()}/",
        "GANTRY_TELEMETRY_DATABASE_URL": f"sqlite:///{tmp_path / 'telemetry.db'}",
        "GANTRY_TELEMETRY_GRPC_PORT": str(port),
        "GANTRY_METRICS_PORT": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.telemetry.api"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    target = f"127.0.0.1:{port}"
    try:

        def not_serving() -> bool:
            try:
                return health_status(target) == "NOT_SERVING"
            except grpc.RpcError:
                return False  # not listening yet

        eventually(not_serving, what="telemetry to report NOT_SERVING")
        # The process itself lives on: restarting it would not bring the broker back.
        assert health_status(target, "") == "SERVING"
        assert readyz_telemetry(target) == (503, "NOT_SERVING")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(STOP_SECONDS) == 0


def test_telemetry_serves_again_once_the_broker_takes_readings(topology: Topology) -> None:
    publisher = ConfirmingPublisher(AMQP_URL, topology)
    try:
        # No readings queue yet: the broker would refuse every batch.
        with telemetry_health(publisher) as target:
            eventually(lambda: health_status(target) == "NOT_SERVING", what="NOT_SERVING without the queue")
            declare_readings_queue(topology)
            eventually(lambda: health_status(target) == "SERVING", what="SERVING once the queue exists")
            assert readyz_telemetry(target)[1] == "SERVING"
    finally:
        publisher.close()


def test_a_failed_publication_brings_the_check_forward(topology: Topology) -> None:
    declare_readings_queue(topology)
    publisher = ConfirmingPublisher(AMQP_URL, topology)
    try:
        with telemetry_health(publisher, interval=NEVER) as target:
            eventually(lambda: health_status(target) == "SERVING", what="SERVING with the queue")
            delete_readings_queue(topology)
            with pytest.raises(PublishError):
                publisher.send(WorkMessage(READINGS.fed_by, str(uuid.uuid4()), b"{}", "request-1"))
            assert not publisher.confirming
            eventually(lambda: health_status(target) == "NOT_SERVING", what="NOT_SERVING after the failure")
    finally:
        publisher.close()
