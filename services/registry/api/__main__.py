"""Runs the registry's `-api` process: python -m services.registry.api

It serves RegistryService and PeopleService (users, sign-in sessions, sign-ups) on an
asyncio server: GetDevice, the hottest read, is answered on the event
loop, and every other call on the server's threads.

Beside the gRPC server, an event listener keeps the process's authentication cache
fresh: revocations and changes of devices and tenants, wherever they are made,
evict what they make stale, and while the listener is disconnected the cache
serves nothing. It also wakes the calls waiting for a server-side RPC's outcome.
"""

from __future__ import annotations

from gantry.v1 import people_pb2_grpc, registry_pb2_grpc

from services.kit import grpc_server, settings
from services.kit.bus import ConfirmingPublisher, Topology
from services.kit.events import Event
from services.kit.grpc_calls import Instrumented
from services.kit.listener import EventListener
from services.kit.store import Store
from services.registry.api import rpc_waiters
from services.registry.api.people import PEOPLE_SERVICE_NAME, PeopleServicer
from services.registry.api.servicer import SERVICE_NAME, RegistryServicer
from services.registry.settings import sign_in_throttles, sign_up_policy
from services.registry.storage import metadata
from services.registry.usecases.cache import EVICTING_EVENTS


def main() -> None:
    topology = Topology.from_env()
    publisher = ConfirmingPublisher(settings.amqp_url(), topology)
    store = Store("registry", metadata, publisher)
    servicer = RegistryServicer(store)
    people = PeopleServicer(store, sign_up_policy(), sign_in_throttles())
    cache = servicer.cache

    def heard(event: Event) -> None:
        cache.evict_for(event)
        servicer.rpc_waiters.heard(event)

    listener = EventListener(
        settings.amqp_url(),
        topology,
        (*EVICTING_EVENTS, *rpc_waiters.EVENT_TYPES),
        heard,
        on_connected=cache.resume,
        on_disconnected=cache.suspend,
    )

    def register(server: Instrumented) -> None:
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(servicer, server)
        people_pb2_grpc.add_PeopleServiceServicer_to_server(people, server)
        listener.start()

    def stop() -> None:
        listener.stop()
        servicer.devices.close()
        publisher.close()
        store.close()

    grpc_server.run(
        "registry-api",
        register,
        [SERVICE_NAME, PEOPLE_SERVICE_NAME],
        settings.grpc_port("registry"),
        on_stop=stop,
        asynchronous=True,
    )


if __name__ == "__main__":
    main()
