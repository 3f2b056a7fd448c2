"""Runs analytics's `-api` process: python -m services.analytics.api"""

from __future__ import annotations

import grpc
from gantry.v1 import analytics_pb2_grpc, registry_pb2_grpc

from services.analytics.api.servicer import SERVICE_NAME, AnalyticsServicer
from services.analytics.storage import metadata
from services.kit import grpc_server
from services.kit.grpc_calls import Instrumented
from services.kit.registry import RegistryOverGrpc
from services.kit.store import Store


def add_servicer(server: Instrumented, store: Store, registry: grpc.Channel) -> None:
    servicer = AnalyticsServicer(store, RegistryOverGrpc(registry_pb2_grpc.RegistryServiceStub(registry)))
    analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, server)


if __name__ == "__main__":
    grpc_server.serve_service("analytics", metadata, add_servicer, SERVICE_NAME)
