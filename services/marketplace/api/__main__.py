"""Runs the marketplace's `-api` process: python -m services.marketplace.api

Beside its store and event publisher, the process holds one channel to the registry,
which it asks whose devices capacity listings may sell and which tenants exist.
"""

from __future__ import annotations

import grpc
from gantry.v1 import marketplace_pb2_grpc, registry_pb2_grpc

from services.kit import grpc_server, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.grpc_calls import Instrumented
from services.kit.store import Store
from services.marketplace.api.registry import RegistryOverGrpc
from services.marketplace.api.servicer import SERVICE_NAME, MarketplaceServicer
from services.marketplace.storage import metadata


def main() -> None:
    publisher = ConfirmingPublisher(settings.amqp_url(), Topology.from_env())
    store = Store("marketplace", metadata, publisher)
    registry = grpc.insecure_channel(settings.grpc_target("registry"))
    servicer = MarketplaceServicer(store, RegistryOverGrpc(registry_pb2_grpc.RegistryServiceStub(registry)))

    def register(server: Instrumented) -> None:
        marketplace_pb2_grpc.add_MarketplaceServiceServicer_to_server(servicer, server)

    def stop() -> None:
        registry.close()
        publisher.close()
        store.close()

    grpc_server.run(
        "marketplace-api", register, [SERVICE_NAME], settings.grpc_port("marketplace"), on_stop=stop
    )


if __name__ == "__main__":
    main()
