"""gRPC channels of the HTTP processes (the gateway, the console) to the services' `-api`
processes, and their readiness."""

from __future__ import annotations

from typing import Any

import grpc
from gantry.v1 import (
    analytics_pb2,
    analytics_pb2_grpc,
    marketplace_pb2,
    marketplace_pb2_grpc,
    people_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    telemetry_pb2,
    telemetry_pb2_grpc,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit import settings

HEALTH_TIMEOUT_SECONDS = 1.0

# The gRPC service each backend serves, whose health says whether it can take calls: a
# backend may serve while one of its services cannot (telemetry's, while the broker does
# not confirm), and the server's overall health ("") stays SERVING for liveness probes.
SERVICE_NAMES = {
    "registry": registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
    "telemetry": telemetry_pb2.DESCRIPTOR.services_by_name["TelemetryService"].full_name,
    "marketplace": marketplace_pb2.DESCRIPTOR.services_by_name["MarketplaceService"].full_name,
    "analytics": analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name,
}
_BACKEND_OF = {name: backend for backend, name in SERVICE_NAMES.items()}


class Backends:
    """One channel per service, opened when the process starts serving: asyncio channels
    belong to the event loop that runs them."""

    def __init__(self) -> None:
        self.channels: dict[str, grpc.aio.Channel] = {}

    def open(self) -> None:
        self.channels = {
            service: grpc.aio.insecure_channel(settings.grpc_target(service)) for service in SERVICE_NAMES
        }
        self.registry = registry_pb2_grpc.RegistryServiceStub(self.channels["registry"])
        # People are the registry's: registry-api serves PeopleService beside RegistryService.
        self.people = people_pb2_grpc.PeopleServiceStub(self.channels["registry"])
        self.telemetry = telemetry_pb2_grpc.TelemetryServiceStub(self.channels["telemetry"])
        self.marketplace = marketplace_pb2_grpc.MarketplaceServiceStub(self.channels["marketplace"])
        self.analytics = analytics_pb2_grpc.AnalyticsServiceStub(self.channels["analytics"])

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def health(self) -> dict[str, str]:
        """Each backend's gRPC health status, or why it could not be read."""
        report = {}
        for service, channel in self.channels.items():
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAMES[service]),
                    timeout=HEALTH_TIMEOUT_SECONDS,
                )
                report[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.aio.AioRpcError as error:
                report[service] = error.code().name
        return report


def backend_of(method: Any) -> str:
    """The backend a stub's method calls ("registry"), for answers that name it; "" when
    unknown. grpc keeps a method's path (`/gantry.v1.RegistryService/GetDevice`) only in
    a private attribute, hence the care."""
    path = getattr(method, "_method", b"")
    service = path.decode() if isinstance(path, bytes) else str(path)
    return _BACKEND_OF.get(service.strip("/").partition("/")[0], "")
