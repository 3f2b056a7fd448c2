"""Tenants and their API keys through the registry's gRPC API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import grpc
import orjson
import pytest
from gantry.v1 import common_pb2
from gantry.v1 import registry_pb2 as pb
from google.protobuf import timestamp_pb2

from services.kit.pagination import encode_cursor
from services.kit.protos import timestamp
from services.kit.store import Store
from tests.integration.conftest import CapturedEvents
from tests.support.access import (
    ManualClock,
    Stub,
    access_server,
    authenticate_key,
    code_of,
    create_tenant,
    mask,
    row_counts,
    rpc_error,
    violations,
)

ACTIVE, SUSPENDED = pb.TENANT_STATUS_ACTIVE, pb.TENANT_STATUS_SUSPENDED


@pytest.fixture
def registry(store: Store, clock: ManualClock) -> Iterator[Stub]:
    with access_server(store, clock) as stub:
        yield stub


def event_types(captured: CapturedEvents) -> list[str]:
    return [orjson.loads(body)["type"] for _, body in captured.drain()]


def create_key(registry: Stub, tenant_id: str, *scopes: str, **fields: object) -> pb.CreateApiKeyResponse:
    request = pb.CreateApiKeyRequest(
        tenant_id=tenant_id, name="ci", scopes=scopes or ["devices:read"], **fields
    )
    return registry.CreateApiKey(request)


def update_tenant(registry: Stub, tenant: pb.Tenant, *paths: str, **fields: object) -> pb.Tenant:
    request = pb.UpdateTenantRequest(
        tenant_id=tenant.id, expected_version=tenant.version, update_mask=mask(*paths), **fields
    )
    return registry.UpdateTenant(request)


def walk(
    list_page: Callable[[common_pb2.PageRequest], tuple[list[str], common_pb2.PageInfo]], size: int
) -> list[str]:
    """Every id of a list, page by page, checking each page's total against the whole."""
    ids, totals, cursor = [], set(), ""
    while True:
        page_ids, info = list_page(common_pb2.PageRequest(page_size=size, cursor=cursor))
        assert len(page_ids) <= size
        ids += page_ids
        totals.add(info.total)
        cursor = info.next_cursor
        if not cursor:
            assert totals == {len(ids)}
            return ids


def tenant_page(
    registry: Stub, **filters: object
) -> Callable[[common_pb2.PageRequest], tuple[list[str], common_pb2.PageInfo]]:
    def list_page(page: common_pb2.PageRequest) -> tuple[list[str], common_pb2.PageInfo]:
        reply = registry.ListTenants(pb.ListTenantsRequest(page=page, **filters))
        return [t.id for t in reply.tenants], reply.page

    return list_page


def test_a_new_tenant_comes_with_an_admin_key_and_is_announced(
    registry: Stub, captured: CapturedEvents
) -> None:
    created = create_tenant(registry, "精密机械 Präzision GmbH 🛠")
    tenant = created.tenant
    assert (tenant.name, tenant.status, tenant.version) == ("精密机械 Präzision GmbH 🛠", ACTIVE, 1)
    assert registry.GetTenant(pb.GetTenantRequest(tenant_id=tenant.id)) == tenant
    identity = authenticate_key(registry, created.api_key)
    assert (identity.tenant_id, list(identity.scopes)) == (tenant.id, ["admin"])
    assert event_types(captured) == ["tenant.created"]


def in_list_order(tenants: list[pb.Tenant]) -> list[str]:
    return [t.id for t in sorted(tenants, key=lambda t: (t.created_at.ToDatetime(), t.id))]


def test_tenants_list_page_by_page_in_creation_order(registry: Stub, clock: ManualClock) -> None:
    created = []
    for i in range(7):
        created.append(create_tenant(registry).tenant)
        clock.advance(timedelta(seconds=i % 2))  # pairs share a creation time, and are ordered by id
    expected = in_list_order(created)
    assert walk(tenant_page(registry), 3) == expected
    assert walk(tenant_page(registry), 7) == expected
    default_page = registry.ListTenants(pb.ListTenantsRequest(page=common_pb2.PageRequest(page_size=0)))
    assert ([t.id for t in default_page.tenants], default_page.page.next_cursor) == (expected, "")


def test_tenants_list_by_country_and_status(registry: Stub) -> None:
    chinese = create_tenant(registry, country="CN").tenant
    german = [create_tenant(registry, country="DE").tenant for _ in range(3)]
    suspended = update_tenant(registry, german[1], "status", status=SUSPENDED)
    active = [chinese, german[0], german[2]]
    assert walk(tenant_page(registry, country="DE"), 2) == in_list_order(german)
    assert walk(tenant_page(registry, country="DE", status=ACTIVE), 2) == in_list_order(active[1:])
    assert walk(tenant_page(registry, status=ACTIVE), 2) == in_list_order(active)
    assert walk(tenant_page(registry, status=SUSPENDED), 2) == [suspended.id]
    assert walk(tenant_page(registry, country="FR"), 2) == []


def test_a_cursor_continues_only_the_list_it_came_from(registry: Stub) -> None:
    for country in ("CN", "CN", "DE"):
        create_tenant(registry, country=country)
    first = registry.ListTenants(
        pb.ListTenantsRequest(page=common_pb2.PageRequest(page_size=1), country="CN")
    )
    listing = {"list": "tenants", "country": "CN", "status": ""}
    forged = [
        encode_cursor(position, listing)
        for position in (["yesterday", 42], ["0001-01-01T00:00:00+14:00", str(uuid.uuid4())], [])
    ]
    for cursor, country in [(first.page.next_cursor, "DE"), ("garbage", "CN"), *((f, "CN") for f in forged)]:
        request = pb.ListTenantsRequest(page=common_pb2.PageRequest(cursor=cursor), country=country)
        assert "page.cursor" in violations(lambda r=request: registry.ListTenants(r))


def test_an_update_changes_only_the_masked_fields(registry: Stub, captured: CapturedEvents) -> None:
    tenant = create_tenant(registry).tenant
    updated = update_tenant(
        registry,
        tenant,
        "name",
        "size_class",
        name="Acme Works",
        country="DE",
        size_class=pb.SIZE_CLASS_LARGE,
    )
    assert (updated.name, updated.country, updated.size_class, updated.version) == (
        "Acme Works",
        "CN",
        pb.SIZE_CLASS_LARGE,
        2,
    )
    assert registry.GetTenant(pb.GetTenantRequest(tenant_id=tenant.id)) == updated
    events = [orjson.loads(body) for _, body in captured.drain()]
    assert [e["type"] for e in events] == ["tenant.created", "tenant.updated"]
    assert events[1]["data"] | {"tenant_id": events[1]["tenant_id"]} == {
        "name": "Acme Works",
        "country": "CN",
        "size_class": "large",
        "status": "active",
        "version": 2,
        "tenant_id": tenant.id,
    }


def test_a_stale_version_is_aborted_and_changes_nothing(registry: Stub, store: Store) -> None:
    tenant = create_tenant(registry).tenant
    current = update_tenant(registry, tenant, "name", name="Second")
    before = row_counts(store)
    assert code_of(lambda: update_tenant(registry, tenant, "name", name="Third")) == grpc.StatusCode.ABORTED
    assert registry.GetTenant(pb.GetTenantRequest(tenant_id=tenant.id)) == current
    assert row_counts(store) == before


def test_concurrent_updates_of_one_version_let_exactly_one_win(registry: Stub) -> None:
    tenant = create_tenant(registry).tenant
    start = threading.Barrier(8)
    outcomes: dict[str, grpc.StatusCode] = {}

    def rename(name: str) -> None:
        start.wait()
        try:
            update_tenant(registry, tenant, "name", name=name)
            outcomes[name] = grpc.StatusCode.OK
        except grpc.RpcError as error:
            outcomes[name] = error.code()

    threads = [threading.Thread(target=rename, args=(f"Name {i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, code in outcomes.items() if code == grpc.StatusCode.OK]
    assert len(winners) == 1 and list(outcomes.values()).count(grpc.StatusCode.ABORTED) == 7
    final = registry.GetTenant(pb.GetTenantRequest(tenant_id=tenant.id))
    assert (final.name, final.version) == (winners[0], 2)


@pytest.mark.parametrize(
    ("paths", "expected_version", "field"),
    [
        ((), 1, "update_mask"),
        (("name", "version"), 1, "update_mask"),
        (("name",), 0, "expected_version"),
        (("country",), 1, "country"),
        (("size_class",), 1, "size_class"),
        (("status",), 1, "status"),
    ],
)
def test_an_update_must_name_known_fields_and_a_version(
    registry: Stub, store: Store, paths: tuple[str, ...], expected_version: int, field: str
) -> None:
    tenant = create_tenant(registry).tenant
    request = pb.UpdateTenantRequest(
        tenant_id=tenant.id,
        expected_version=expected_version,
        update_mask=mask(*paths),
        name="New",
        country="de",
    )
    before = row_counts(store)
    assert field in violations(lambda: registry.UpdateTenant(request))
    assert row_counts(store) == before


def test_an_api_key_authenticates_with_its_scopes_until_revoked(
    registry: Stub, captured: CapturedEvents
) -> None:
    tenant = create_tenant(registry).tenant
    created = create_key(registry, tenant.id, "telemetry:read", "devices:read")
    key = created.api_key
    assert (key.name, list(key.scopes), key.HasField("revoked_at")) == (
        "ci",
        ["devices:read", "telemetry:read"],
        False,
    )
    identity = authenticate_key(registry, created.secret)
    assert (identity.tenant_id, identity.api_key_id, list(identity.scopes)) == (
        tenant.id,
        key.id,
        list(key.scopes),
    )
    revoke = pb.RevokeApiKeyRequest(tenant_id=tenant.id, api_key_id=key.id)
    revoked = registry.RevokeApiKey(revoke)
    assert revoked.HasField("revoked_at") and registry.RevokeApiKey(revoke) == revoked
    assert code_of(lambda: authenticate_key(registry, created.secret)) == grpc.StatusCode.UNAUTHENTICATED
    assert event_types(captured) == ["tenant.created", "api_key.revoked"]


def test_a_key_expires(registry: Stub, clock: ManualClock) -> None:
    tenant = create_tenant(registry).tenant
    created = create_key(registry, tenant.id, expires_at=timestamp(clock.now + timedelta(hours=1)))
    assert authenticate_key(registry, created.secret).expires_at == created.api_key.expires_at
    clock.advance(timedelta(hours=1))
    assert code_of(lambda: authenticate_key(registry, created.secret)) == grpc.StatusCode.UNAUTHENTICATED


def test_a_suspended_tenants_keys_are_refused_until_it_is_active_again(registry: Stub) -> None:
    created = create_tenant(registry)
    suspended = update_tenant(registry, created.tenant, "status", status=SUSPENDED)
    assert code_of(lambda: authenticate_key(registry, created.api_key)) == grpc.StatusCode.UNAUTHENTICATED
    update_tenant(registry, suspended, "status", status=ACTIVE)
    assert authenticate_key(registry, created.api_key).tenant_id == created.tenant.id


def test_every_refused_key_gets_the_same_answer(registry: Stub, clock: ManualClock) -> None:
    tenant = create_tenant(registry).tenant
    secrets = [create_key(registry, tenant.id).secret for _ in range(3)]
    expiring = create_key(registry, tenant.id, expires_at=timestamp(clock.now + timedelta(minutes=1)))
    revoked = create_key(registry, tenant.id)
    registry.RevokeApiKey(pb.RevokeApiKeyRequest(tenant_id=tenant.id, api_key_id=revoked.api_key.id))
    clock.advance(timedelta(minutes=1))
    refused = [
        "",
        "garbage",
        "gnt_" + "0" * 32 + "_secret",
        secrets[0][:-1] + ("A" if secrets[0][-1] != "A" else "B"),
        secrets[1] + "\x00",
        secrets[2] + "x" * 1_000_000,
        "gdt" + secrets[2][3:],
        expiring.secret,
        revoked.secret,
    ]
    errors = [rpc_error(lambda s=secret: authenticate_key(registry, s)) for secret in refused]
    assert {(e.code(), e.details()) for e in errors} == {(grpc.StatusCode.UNAUTHENTICATED, "invalid API key")}


def test_keys_list_page_by_page(registry: Stub) -> None:
    created = create_tenant(registry)
    keys = [authenticate_key(registry, created.api_key).api_key_id]
    keys += [create_key(registry, created.tenant.id).api_key.id for _ in range(4)]

    def list_page(page: common_pb2.PageRequest) -> tuple[list[str], common_pb2.PageInfo]:
        reply = registry.ListApiKeys(pb.ListApiKeysRequest(tenant_id=created.tenant.id, page=page))
        return [k.id for k in reply.api_keys], reply.page

    assert sorted(walk(list_page, 2)) == sorted(keys)
    assert walk(list_page, 2) == walk(list_page, 5)


def test_another_tenants_keys_and_unknown_tenants_are_not_found(registry: Stub) -> None:
    owner, stranger = create_tenant(registry), create_tenant(registry).tenant
    key_id = authenticate_key(registry, owner.api_key).api_key_id
    unknown = str(uuid.uuid4())
    calls = [
        lambda: registry.RevokeApiKey(pb.RevokeApiKeyRequest(tenant_id=stranger.id, api_key_id=key_id)),
        lambda: registry.RevokeApiKey(pb.RevokeApiKeyRequest(tenant_id=owner.tenant.id, api_key_id=unknown)),
        lambda: registry.ListApiKeys(pb.ListApiKeysRequest(tenant_id=unknown)),
        lambda: create_key(registry, unknown),
        lambda: registry.GetTenant(pb.GetTenantRequest(tenant_id=unknown)),
        lambda: registry.UpdateTenant(
            pb.UpdateTenantRequest(tenant_id=unknown, expected_version=1, update_mask=mask("name"), name="x")
        ),
    ]
    assert [code_of(call) for call in calls] == [grpc.StatusCode.NOT_FOUND] * len(calls)
    assert authenticate_key(registry, owner.api_key).tenant_id == owner.tenant.id


HOSTILE_TENANTS = [
    ({"name": "x" * 10_000}, "name"),
    ({"name": "Acme\x00Works"}, "name"),
    ({"name": ""}, "name"),
    ({"country": "cn"}, "country"),
    ({"country": "C\x00"}, "country"),
    ({"country": "CHN"}, "country"),
    ({"size_class": pb.SIZE_CLASS_UNSPECIFIED}, "size_class"),
    ({"size_class": 99}, "size_class"),
]


@pytest.mark.parametrize(("fields", "field"), HOSTILE_TENANTS)
def test_hostile_tenants_are_refused_and_nothing_is_written(
    registry: Stub, store: Store, fields: dict[str, object], field: str
) -> None:
    request = pb.CreateTenantRequest(
        **{"name": "Acme", "country": "CN", "size_class": pb.SIZE_CLASS_SMALL, **fields}
    )
    before = row_counts(store)
    assert field in violations(lambda: registry.CreateTenant(request))
    assert row_counts(store) == before


HOSTILE_KEYS = [
    ({"scopes": ["admin"] * 100_000}, "scopes"),
    ({"scopes": []}, "scopes"),
    ({"scopes": ["devices:read", "root"]}, "scopes[1]"),
    ({"scopes": ["admin", "admin"]}, "scopes[1]"),
    ({"name": "k" * 201}, "name"),
    ({"name": "key\x00"}, "name"),
    ({"tenant_id": "not-a-uuid"}, "tenant_id"),
    ({"tenant_id": "x" * 100_000}, "tenant_id"),
    ({"expires_at": timestamp_pb2.Timestamp(seconds=1)}, "expires_at"),
    ({"expires_at": timestamp_pb2.Timestamp(seconds=2**62)}, "expires_at"),
    ({"expires_at": timestamp_pb2.Timestamp(nanos=-1)}, "expires_at"),
]


@pytest.mark.parametrize(("fields", "field"), HOSTILE_KEYS)
def test_hostile_keys_are_refused_and_nothing_is_written(
    registry: Stub, store: Store, fields: dict[str, object], field: str
) -> None:
    tenant = create_tenant(registry).tenant
    request = pb.CreateApiKeyRequest(**{"tenant_id": tenant.id, "name": "ci", "scopes": ["admin"], **fields})
    before = row_counts(store)
    found = violations(lambda: registry.CreateApiKey(request))
    assert field in found and len(found) <= 3
    assert row_counts(store) == before


def test_every_violation_of_a_request_is_named_at_once(registry: Stub) -> None:
    tenant = create_tenant(registry).tenant
    request = pb.CreateApiKeyRequest(
        tenant_id=tenant.id, name="", scopes=["root", "admin"], expires_at=timestamp_pb2.Timestamp(seconds=1)
    )
    assert set(violations(lambda: registry.CreateApiKey(request))) == {"name", "scopes[0]", "expires_at"}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda r: r.ListTenants(pb.ListTenantsRequest(page=common_pb2.PageRequest(page_size=-1))),
            "page.page_size",
        ),
        (
            lambda r: r.ListTenants(pb.ListTenantsRequest(page=common_pb2.PageRequest(page_size=10**6))),
            "page.page_size",
        ),
        (lambda r: r.ListTenants(pb.ListTenantsRequest(country="'; DROP TABLE tenants; --")), "country"),
        (
            lambda r: r.ListApiKeys(
                pb.ListApiKeysRequest(tenant_id=str(uuid.uuid4()), page=common_pb2.PageRequest(page_size=-5))
            ),
            "page.page_size",
        ),
        (lambda r: r.GetTenant(pb.GetTenantRequest(tenant_id="\x00")), "tenant_id"),
        (
            lambda r: r.RevokeApiKey(
                pb.RevokeApiKeyRequest(tenant_id=str(uuid.uuid4()), api_key_id="1 OR 1=1")
            ),
            "api_key_id",
        ),
    ],
)
def test_malformed_reads_and_ids_are_refused(
    registry: Stub, call: Callable[[Stub], object], field: str
) -> None:
    assert field in violations(lambda: call(registry))
