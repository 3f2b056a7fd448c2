"""The registry's gRPC API on a real database (SQLite and PostgreSQL) and the real broker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import grpc
import orjson
import pytest
from gantry.v1 import registry_pb2 as pb
from gantry.v1 import registry_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import func, select

from services.kit.bus import ConfirmingPublisher
from services.kit.grpc_server import build_server
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.registry import api, storage
from tests.integration.conftest import CapturedEvents

SMALL = pb.SIZE_CLASS_SMALL


@pytest.fixture
def store(database_url: str, publisher: ConfirmingPublisher) -> Iterator[Store]:
    upgrade("registry", database_url)
    registry_store = Store("registry", storage.metadata, publisher, url=database_url)
    yield registry_store
    registry_store.close()


@pytest.fixture
def registry(store: Store) -> Iterator[registry_pb2_grpc.RegistryServiceStub]:
    server, _, port = build_server(lambda s: api.add_servicer(s, store), ["gantry.v1.RegistryService"], 0)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield registry_pb2_grpc.RegistryServiceStub(channel)
    server.stop(None)


def create_tenant(
    registry: registry_pb2_grpc.RegistryServiceStub, name: str = "Acme"
) -> pb.CreateTenantResponse:
    return registry.CreateTenant(pb.CreateTenantRequest(name=name, country="CN", size_class=SMALL))


def violations(error: grpc.RpcError) -> dict[str, str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    status = rpc_status.from_call(error)
    found = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        assert detail.Unpack(bad_request)
        found.update({v.field: v.description for v in bad_request.field_violations})
    return found


def count(store: Store, table: object) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_new_tenants_key_authenticates_with_admin_scope(
    registry: registry_pb2_grpc.RegistryServiceStub,
) -> None:
    created = create_tenant(registry, "精密机械 Precision GmbH")
    identity = registry.AuthenticateApiKey(pb.AuthenticateApiKeyRequest(api_key=created.api_key))
    assert identity.tenant_id == created.tenant.id
    assert list(identity.scopes) == ["admin"]
    assert registry.GetTenant(pb.GetTenantRequest(tenant_id=created.tenant.id)) == created.tenant
    assert created.tenant.name == "精密机械 Precision GmbH"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
        lambda k: k + "x",
        lambda k: "gnt_" + "0" * 32 + "_x",
        lambda k: "garbage",
    ],
)
def test_wrong_keys_are_unauthenticated(registry: registry_pb2_grpc.RegistryServiceStub, mangle) -> None:
    created = create_tenant(registry)
    with pytest.raises(grpc.RpcError) as raised:
        registry.AuthenticateApiKey(pb.AuthenticateApiKeyRequest(api_key=mangle(created.api_key)))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_registering_a_device_publishes_its_event(
    registry: registry_pb2_grpc.RegistryServiceStub, captured: CapturedEvents
) -> None:
    tenant = create_tenant(registry).tenant
    device = registry.RegisterDevice(
        pb.RegisterDeviceRequest(tenant_id=tenant.id, serial_number="CNC-1", display_name="Mill"),
        metadata=(("x-request-id", "trace-registry-1"),),
    )
    assert device.state == pb.DEVICE_STATE_PROVISIONED and device.version == 1
    messages = captured.drain()
    types = [orjson.loads(body)["type"] for _, body in messages]
    assert types == ["tenant.created", "device.registered"]
    properties, body = messages[1]
    event = orjson.loads(body)
    assert event["tenant_id"] == tenant.id and event["data"]["device_id"] == device.id
    assert properties.delivery_mode == 2
    assert properties.headers["x-request-id"] == "trace-registry-1"


def test_serial_numbers_are_unique_per_tenant_even_under_concurrency(
    registry: registry_pb2_grpc.RegistryServiceStub, store: Store
) -> None:
    first, second = create_tenant(registry).tenant, create_tenant(registry).tenant
    outcomes: list[grpc.StatusCode] = []

    def register() -> None:
        try:
            registry.RegisterDevice(
                pb.RegisterDeviceRequest(tenant_id=first.id, serial_number="DUP-1", display_name="x")
            )
            outcomes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            outcomes.append(error.code())

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == sorted(
        [grpc.StatusCode.OK] + [grpc.StatusCode.ALREADY_EXISTS] * 7, key=str
    )
    registry.RegisterDevice(
        pb.RegisterDeviceRequest(tenant_id=second.id, serial_number="DUP-1", display_name="x")
    )
    assert count(store, storage.devices) == 2


def test_another_tenants_device_is_not_found(registry: registry_pb2_grpc.RegistryServiceStub) -> None:
    owner, stranger = create_tenant(registry).tenant, create_tenant(registry).tenant
    device = registry.RegisterDevice(
        pb.RegisterDeviceRequest(tenant_id=owner.id, serial_number="S-1", display_name="x")
    )
    for tenant_id, device_id in [(stranger.id, device.id), (owner.id, str(uuid.uuid4()))]:
        with pytest.raises(grpc.RpcError) as raised:
            registry.GetDevice(pb.GetDeviceRequest(tenant_id=tenant_id, device_id=device_id))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as raised:
        registry.RegisterDevice(
            pb.RegisterDeviceRequest(tenant_id=str(uuid.uuid4()), serial_number="S-2", display_name="x")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


HOSTILE_TENANTS = [
    ({"name": "x" * 100_000, "country": "CN", "size_class": SMALL}, "name"),
    ({"name": "Acme\x00Corp", "country": "CN", "size_class": SMALL}, "name"),
    ({"name": "", "country": "CN", "size_class": SMALL}, "name"),
    ({"name": "Acme", "country": "China", "size_class": SMALL}, "country"),
    ({"name": "Acme", "country": "cn", "size_class": SMALL}, "country"),
    ({"name": "Acme", "country": "CN", "size_class": pb.SIZE_CLASS_UNSPECIFIED}, "size_class"),
    ({"name": "Acme", "country": "CN", "size_class": 99}, "size_class"),
]


@pytest.mark.parametrize("fields, field", HOSTILE_TENANTS)
def test_hostile_tenants_are_refused_and_nothing_is_written(
    registry: registry_pb2_grpc.RegistryServiceStub, store: Store, fields: dict, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        registry.CreateTenant(pb.CreateTenantRequest(**fields))
    assert field in violations(raised.value)
    assert count(store, storage.tenants) == 0 and count(store, storage.api_keys) == 0


HOSTILE_DEVICES = [
    ({"serial_number": "S" * 65, "display_name": "x"}, "serial_number"),
    ({"serial_number": "S 1", "display_name": "x"}, "serial_number"),
    ({"serial_number": "S-1\x00", "display_name": "x"}, "serial_number"),
    ({"serial_number": "-leading-dash", "display_name": "x"}, "serial_number"),
    ({"serial_number": "S-1", "display_name": "\u202e\x1b[31m"}, "display_name"),
    ({"serial_number": "S-1", "display_name": "y" * 201}, "display_name"),
]


@pytest.mark.parametrize("fields, field", HOSTILE_DEVICES)
def test_hostile_devices_are_refused_and_nothing_is_written(
    registry: registry_pb2_grpc.RegistryServiceStub, store: Store, fields: dict, field: str
) -> None:
    tenant = create_tenant(registry).tenant
    with pytest.raises(grpc.RpcError) as raised:
        registry.RegisterDevice(pb.RegisterDeviceRequest(tenant_id=tenant.id, **fields))
    assert field in violations(raised.value)
    assert count(store, storage.devices) == 0


def test_malformed_ids_are_invalid_arguments(registry: registry_pb2_grpc.RegistryServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        registry.GetDevice(pb.GetDeviceRequest(tenant_id="'; DROP TABLE devices; --", device_id="-1"))
    assert set(violations(raised.value)) == {"tenant_id"}
