"""A gRPC server ends each client connection after GANTRY_GRPC_MAX_CONNECTION_AGE_SECONDS,
and the client connects again by itself: clients of a Service reach replicas added since."""

from __future__ import annotations

import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit.grpc_server import build_server

WAIT_SECONDS = 30


def test_a_client_connects_again_once_its_connection_reached_its_age(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANTRY_GRPC_MAX_CONNECTION_AGE_SECONDS", "1")
    server, _, port = build_server(lambda server: None, [], 0)
    states: list[grpc.ChannelConnectivity] = []
    left = threading.Event()

    def watch(state: grpc.ChannelConnectivity) -> None:
        states.append(state)
        # A connection the server ended leaves the channel idle until its next call.
        if grpc.ChannelConnectivity.READY in states and state != grpc.ChannelConnectivity.READY:
            left.set()

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        health = health_pb2_grpc.HealthStub(channel)
        channel.subscribe(watch)
        assert (
            health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
            == health_pb2.HealthCheckResponse.SERVING
        )
        assert left.wait(WAIT_SECONDS), f"the connection was never ended: {states}"
        assert (
            health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
            == health_pb2.HealthCheckResponse.SERVING
        )
    finally:
        channel.unsubscribe(watch)
        channel.close()
        server.stop(None)
