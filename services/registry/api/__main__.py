"""Runs the registry's `-api` process: python -m services.registry.api

Beside the gRPC server, an event listener keeps the process's authentication cache
fresh: revocations and changes of devices and tenants, wherever they are made,
evict what they make stale, and while the listener is disconnected the cache
serves nothing.
"""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2_grpc

from services.kit import grpc_server, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.listener import EventListener
from services.kit.store import Store
from services.registry.api.servicer import SERVICE_NAME, RegistryServicer
from services.registry.storage import metadata
from services.registry.usecases.cache import EVICTING_EVENTS


def main() -> None:
    topology = Topology.from_env()
    publisher = ConfirmingPublisher(settings.amqp_url(), topology)
    store = Store("registry", metadata, publisher)
    servicer = RegistryServicer(store)
    cache = servicer.cache
    listener = EventListener(
        settings.amqp_url(),
        topology,
        EVICTING_EVENTS,
        cache.evict_for,
        on_connected=cache.resume,
        on_disconnected=cache.suspend,
    )

    def register(server: grpc.Server) -> None:
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(servicer, server)
        listener.start()

    def stop() -> None:
        listener.stop()
        publisher.close()
        store.close()

    grpc_server.run("registry-api", register, [SERVICE_NAME], settings.grpc_port("registry"), on_stop=stop)


if __name__ == "__main__":
    main()
