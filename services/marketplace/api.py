"""Marketplace's gRPC adapter."""

from __future__ import annotations

import grpc
from gantry.v1 import marketplace_pb2 as pb
from gantry.v1 import marketplace_pb2_grpc

from services.kit import grpc_server
from services.kit.store import Store
from services.marketplace.storage import metadata


def add_servicer(server: grpc.Server, store: Store) -> None:
    marketplace_pb2_grpc.add_MarketplaceServiceServicer_to_server(
        marketplace_pb2_grpc.MarketplaceServiceServicer(), server
    )


if __name__ == "__main__":
    grpc_server.serve_service(
        "marketplace", metadata, add_servicer, pb.DESCRIPTOR.services_by_name["MarketplaceService"].full_name
    )
