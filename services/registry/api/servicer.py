"""The registry's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from gantry.v1 import registry_pb2_grpc

from services.kit.grpc_calls import Instrumented
from services.kit.store import Store
from services.registry.api.attributes import AttributesApi
from services.registry.api.connections import ConnectionsApi
from services.registry.api.credentials import CredentialsApi
from services.registry.api.devices import DevicesApi
from services.registry.api.gateways import GatewaysApi
from services.registry.api.profiles import ProfilesApi
from services.registry.api.provisioning import ProvisioningApi
from services.registry.api.rpc_waiters import RpcWaiters
from services.registry.api.rpcs import RpcsApi
from services.registry.api.tenants import TenantsApi
from services.registry.settings import device_reads_gather_seconds
from services.registry.usecases.attributes import Attributes
from services.registry.usecases.cache import EvictingCache
from services.registry.usecases.connections import Connections
from services.registry.usecases.credentials import Credentials
from services.registry.usecases.devices import Devices
from services.registry.usecases.gateways import Gateways
from services.registry.usecases.profiles import Profiles
from services.registry.usecases.provisioning import Provisioning
from services.registry.usecases.rpcs import Rpcs
from services.registry.usecases.tenants import Tenancy

SERVICE_NAME = "gantry.v1.RegistryService"


class RegistryServicer(
    TenantsApi,
    ProfilesApi,
    DevicesApi,
    CredentialsApi,
    AttributesApi,
    ConnectionsApi,
    RpcsApi,
    GatewaysApi,
    ProvisioningApi,
    registry_pb2_grpc.RegistryServiceServicer,
):
    def __init__(self, store: Store) -> None:
        # What this process remembers of what it read, shared by the use cases that
        # read and those that change or revoke.
        self.cache = EvictingCache()
        self.tenancy = Tenancy(store.unit_of_work, cache=self.cache)
        self.profiles = Profiles(store.unit_of_work)
        self.devices = Devices(
            store.unit_of_work, cache=self.cache, reads_gather_seconds=device_reads_gather_seconds()
        )
        self.credentials = Credentials(store.unit_of_work, cache=self.cache)
        self.attributes = Attributes(store.unit_of_work)
        self.connections = Connections(store.unit_of_work, cache=self.cache)
        self.rpcs = Rpcs(store.unit_of_work)
        self.rpc_waiters = RpcWaiters()
        self.gateways = Gateways(store.unit_of_work, self.devices)
        self.provisioning = Provisioning(store.unit_of_work, self.devices)


def add_servicer(server: Instrumented, store: Store) -> None:
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(store), server)
