"""Registry fixtures for tests: tenants written straight to the database, and a gRPC
server of the registry's devices and profiles on a real database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc
from sqlalchemy import insert

from services.kit.store import Store
from services.registry.api.devices import DevicesApi
from services.registry.api.profiles import ProfilesApi
from services.registry.storage import tenants
from services.registry.usecases.devices import Devices
from services.registry.usecases.profiles import Profiles
from tests.support.serving import serving_async

CHANNELS = [
    pb.Channel(
        key="spindle_temp",
        value_type=pb.VALUE_TYPE_FLOAT,
        unit="degC",
        min=-20,
        max=150,
        sample_interval_ms=1000,
    ),
    pb.Channel(key="mode", value_type=pb.VALUE_TYPE_ENUM, allowed_values=["idle", "cutting", "alarm"]),
]


def insert_tenant(store: Store, status: str = "active") -> str:
    tenant_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        connection.execute(
            insert(tenants).values(
                id=tenant_id,
                name="Test Works",
                country="CN",
                size_class="small",
                status=status,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    return tenant_id


class DevicesServicer(ProfilesApi, DevicesApi, registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, store: Store) -> None:
        self.profiles = Profiles(store.unit_of_work)
        self.devices = Devices(store.unit_of_work)


@contextmanager
def devices_server(store: Store) -> Iterator[registry_pb2_grpc.RegistryServiceStub]:
    add = registry_pb2_grpc.add_RegistryServiceServicer_to_server
    servicer = DevicesServicer(store)
    try:
        with serving_async(add, servicer, "gantry.v1.RegistryService") as channel:
            yield registry_pb2_grpc.RegistryServiceStub(channel)
    finally:
        servicer.devices.close()


def create_profile(registry: registry_pb2_grpc.RegistryServiceStub, tenant_id: str) -> pb.DeviceProfile:
    return registry.CreateProfile(
        pb.CreateProfileRequest(
            tenant_id=tenant_id, name="VMC-850", manufacturer="Haas", model="VF-2", channels=CHANNELS
        )
    )
