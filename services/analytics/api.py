"""Analytics's gRPC adapter."""

from __future__ import annotations

from gantry.v1 import analytics_pb2 as pb
from gantry.v1 import analytics_pb2_grpc

from services.analytics.storage import metadata
from services.kit import grpc_server
from services.kit.grpc_calls import Instrumented
from services.kit.store import Store


def add_servicer(server: Instrumented, store: Store) -> None:
    analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(
        analytics_pb2_grpc.AnalyticsServiceServicer(), server
    )


if __name__ == "__main__":
    grpc_server.serve_service(
        "analytics", metadata, add_servicer, pb.DESCRIPTOR.services_by_name["AnalyticsService"].full_name
    )
