"""Helpers of the tests of tenants, API keys and device credentials: a gRPC server of
those calls on a real database, devices written straight to the database, and
assertions on gRPC errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import Table, func, insert, select, update

from services.kit.bus import Publish
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.registry import storage
from services.registry.api.credentials import CredentialsApi
from services.registry.api.tenants import TenantsApi
from services.registry.usecases import Clock, utc_now
from services.registry.usecases.cache import EvictingCache
from services.registry.usecases.credentials import Credentials
from services.registry.usecases.tenants import Tenancy
from tests.support.serving import serving_async

Stub = registry_pb2_grpc.RegistryServiceStub


class AccessServicer(TenantsApi, CredentialsApi, registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, store: Store, clock: Clock, cache: EvictingCache) -> None:
        self.tenancy = Tenancy(store.unit_of_work, clock, cache)
        self.credentials = Credentials(store.unit_of_work, clock, cache)


class ManualClock:
    """A clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@contextmanager
def migrated_store(database_url: str, publish: Publish) -> Iterator[Store]:
    upgrade("registry", database_url)
    store = Store("registry", storage.metadata, publish, url=database_url)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def access_server(store: Store, clock: Clock = utc_now, cache: EvictingCache | None = None) -> Iterator[Stub]:
    servicer = AccessServicer(store, clock, cache or EvictingCache())

    with serving_async(
        registry_pb2_grpc.add_RegistryServiceServicer_to_server, servicer, "gantry.v1.RegistryService"
    ) as channel:
        yield Stub(channel)


def create_tenant(
    registry: Stub, name: str = "Acme Precision", country: str = "CN"
) -> pb.CreateTenantResponse:
    return registry.CreateTenant(
        pb.CreateTenantRequest(name=name, country=country, size_class=pb.SIZE_CLASS_SMALL)
    )


def authenticate_key(registry: Stub, api_key: str) -> pb.ApiKeyIdentity:
    return registry.AuthenticateApiKey(pb.AuthenticateApiKeyRequest(api_key=api_key))


def issue_token(
    registry: Stub, tenant: str, device: str, **window: object
) -> pb.IssueDeviceCredentialResponse:
    return registry.IssueDeviceCredential(
        pb.IssueDeviceCredentialRequest(tenant_id=tenant, device_id=device, **window)
    )


def authenticate_device(registry: Stub, token: str) -> pb.DeviceIdentity:
    return registry.AuthenticateDevice(pb.AuthenticateDeviceRequest(access_token=token))


def revoke_token(registry: Stub, tenant: str, device: str, credential: str) -> pb.DeviceCredential:
    return registry.RevokeDeviceCredential(
        pb.RevokeDeviceCredentialRequest(tenant_id=tenant, device_id=device, credential_id=credential)
    )


def insert_device(store: Store, tenant_id: str, state: str = "active") -> str:
    """A device of a new one-version profile of the tenant, straight into the database."""
    profile_id, device_id, now = str(uuid.uuid4()), str(uuid.uuid4()), datetime.now(UTC)
    profile = {
        "id": profile_id,
        "tenant_id": tenant_id,
        "name": "VMC-850",
        "manufacturer": "Haas",
        "model": "VF-2",
    }
    device = {
        "id": device_id,
        "tenant_id": tenant_id,
        "serial_number": f"CNC-{device_id[:8]}",
        "display_name": "Mill",
    }
    with store.engine.begin() as connection:
        connection.execute(
            insert(storage.profiles).values(**profile, latest_version=1, created_at=now, updated_at=now)
        )
        connection.execute(
            insert(storage.profile_versions).values(
                profile_id=profile_id, version=1, channels=[], created_at=now
            )
        )
        connection.execute(
            insert(storage.devices).values(
                **device,
                state=state,
                version=1,
                profile_id=profile_id,
                profile_version=1,
                site="",
                production_line="",
                labels={},
                attributes={},
                firmware_version="",
                created_at=now,
                updated_at=now,
            )
        )
    return device_id


def set_row(store: Store, table: Table, row_id: str, **values: Any) -> None:
    """Changes a row behind the registry's back: no use case, no event."""
    with store.engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == row_id).values(**values))


@contextmanager
def secret_hash_broken(store: Store, table: Table, row_id: str) -> Iterator[None]:
    """Breaks the stored hash of a key or token for a while: meanwhile, only a memory of
    an earlier authentication can still accept it."""
    with store.engine.connect() as connection:
        original = connection.execute(select(table.c.secret_hash).where(table.c.id == row_id)).scalar_one()
    set_row(store, table, row_id, secret_hash="0" * 64)
    try:
        yield
    finally:
        set_row(store, table, row_id, secret_hash=original)


def row_counts(store: Store) -> dict[str, int]:
    """How many rows each of the registry's tables holds."""
    with store.engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in storage.metadata.tables.items()
        }


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=paths)


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def code_of(call: Callable[[], object]) -> grpc.StatusCode:
    return rpc_error(call).code()


def authenticates(call: Callable[[], object]) -> bool:
    """Whether an authentication succeeds; False when it is refused."""
    try:
        call()
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
        return False
    return True


def reason_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    """The status code of a failing call and the reason its ErrorInfo names ("" if none)."""
    error = rpc_error(call)
    for detail in rpc_status.from_call(error).details if error.trailing_metadata() else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return error.code(), info.reason
    return error.code(), ""


def violations(call: Callable[[], object]) -> dict[str, str]:
    """The field violations of a call that must fail with INVALID_ARGUMENT."""
    error = rpc_error(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    found = {}
    for detail in rpc_status.from_call(error).details:
        bad_request = error_details_pb2.BadRequest()
        assert detail.Unpack(bad_request)
        found.update({v.field: v.description for v in bad_request.field_violations})
    return found
