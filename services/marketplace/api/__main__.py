"""Runs the marketplace's `-api` process: python -m services.marketplace.api

Beside its store and event publisher, the process holds one channel to the registry,
which it asks whose devices capacity listings may sell and which tenants exist.
"""

from __future__ import annotations

import grpc
from gantry.v1 import marketplace_pb2_grpc, registry_pb2_grpc

from services.kit import grpc_server
from services.kit.grpc_calls import Instrumented
from services.kit.registry import RegistryOverGrpc
from services.kit.store import Store
from services.marketplace.api.servicer import SERVICE_NAME, MarketplaceServicer
from services.marketplace.storage import metadata


def add_servicer(server: Instrumented, store: Store, registry: grpc.Channel) -> None:
    servicer = MarketplaceServicer(store, RegistryOverGrpc(registry_pb2_grpc.RegistryServiceStub(registry)))
    marketplace_pb2_grpc.add_MarketplaceServiceServicer_to_server(servicer, server)


if __name__ == "__main__":
    grpc_server.serve_service("marketplace", metadata, add_servicer, SERVICE_NAME)
