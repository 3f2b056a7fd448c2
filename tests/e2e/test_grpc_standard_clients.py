"""Health and reflection answer on every gRPC port to clients that know nothing of Gantry."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from services.kit.settings import SERVICES
from tests.support.platform import Platform

SERVICE_NAMES = {
    "registry": ("gantry.v1.RegistryService", "gantry.v1.PeopleService"),
    "telemetry": ("gantry.v1.TelemetryService",),
    "marketplace": ("gantry.v1.MarketplaceService",),
    "analytics": ("gantry.v1.AnalyticsService",),
}


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_reflection(platform: Platform, service: str) -> None:
    with grpc.insecure_channel(platform.grpc_target(service)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", *SERVICE_NAMES[service]):
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

        reflected = ProtoReflectionDescriptorDatabase(channel)
        services = set(reflected.get_services())
        assert {*SERVICE_NAMES[service], "grpc.health.v1.Health"} <= services
        for name in SERVICE_NAMES[service]:
            assert reflected.FindFileContainingSymbol(name).package == "gantry.v1"
