"""Device credentials through the registry's gRPC API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import grpc
import orjson
import pytest
from gantry.v1 import registry_pb2 as pb
from google.protobuf import timestamp_pb2

from services.kit.protos import timestamp
from services.kit.store import Store
from services.registry import storage
from tests.integration.conftest import CapturedEvents
from tests.support.access import (
    ManualClock,
    Stub,
    access_server,
    authenticate_device,
    code_of,
    create_tenant,
    insert_device,
    issue_token,
    revoke_token,
    row_counts,
    rpc_error,
    set_row,
    violations,
)

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
def registry(store: Store, clock: ManualClock) -> Iterator[Stub]:
    with access_server(store, clock) as stub:
        yield stub


@pytest.fixture
def tenant(registry: Stub) -> str:
    return create_tenant(registry).tenant.id


@pytest.fixture
def device(store: Store, tenant: str) -> str:
    return insert_device(store, tenant)


def credential_ids(registry: Stub, tenant: str, device: str) -> list[str]:
    listed = registry.ListDeviceCredentials(
        pb.ListDeviceCredentialsRequest(tenant_id=tenant, device_id=device)
    )
    return [c.id for c in listed.credentials]


def test_a_device_holds_several_valid_tokens_at_once(
    registry: Stub, store: Store, tenant: str, device: str, clock: ManualClock
) -> None:
    issued = []
    for _ in range(3):
        issued.append(issue_token(registry, tenant, device))
        clock.advance(timedelta(seconds=1))
    for response in issued:
        identity = authenticate_device(registry, response.access_token)
        assert (identity.device_id, identity.tenant_id, identity.credential_id) == (
            device,
            tenant,
            response.credential.id,
        )
        assert (identity.profile_version, identity.state) == (
            1,
            pb.DEVICE_STATE_ACTIVE,
        ) and identity.profile_id
    assert credential_ids(registry, tenant, device) == [r.credential.id for r in issued]


def test_a_revoked_token_is_refused_and_the_others_keep_working(
    registry: Stub, tenant: str, device: str, captured: CapturedEvents
) -> None:
    old, new = issue_token(registry, tenant, device), issue_token(registry, tenant, device)
    revoked = revoke_token(registry, tenant, device, old.credential.id)
    assert (
        revoked.HasField("revoked_at")
        and revoke_token(registry, tenant, device, old.credential.id) == revoked
    )
    assert code_of(lambda: authenticate_device(registry, old.access_token)) == UNAUTHENTICATED
    assert authenticate_device(registry, new.access_token).credential_id == new.credential.id
    events = [orjson.loads(body) for _, body in captured.drain()]
    assert [e["data"] for e in events if e["type"] == "credential.revoked"] == [
        {"credential_id": old.credential.id, "device_id": device}
    ]


def test_a_token_is_honoured_only_within_its_validity_window(
    registry: Stub, tenant: str, device: str, clock: ManualClock
) -> None:
    start, end = clock.now + timedelta(hours=1), clock.now + timedelta(hours=2)
    issued = issue_token(registry, tenant, device, valid_from=timestamp(start), valid_until=timestamp(end))
    assert (issued.credential.valid_from, issued.credential.valid_until) == (timestamp(start), timestamp(end))
    assert code_of(lambda: authenticate_device(registry, issued.access_token)) == UNAUTHENTICATED
    clock.advance(timedelta(hours=1))
    assert authenticate_device(registry, issued.access_token).credential_id == issued.credential.id
    clock.advance(timedelta(hours=1))
    assert code_of(lambda: authenticate_device(registry, issued.access_token)) == UNAUTHENTICATED


def test_a_suspended_device_authenticates_and_learns_its_state(
    registry: Stub, store: Store, tenant: str, device: str
) -> None:
    issued = issue_token(registry, tenant, device)
    set_row(store, storage.devices, device, state="suspended")
    assert authenticate_device(registry, issued.access_token).state == pb.DEVICE_STATE_SUSPENDED


def test_a_decommissioned_device_neither_authenticates_nor_gets_tokens(
    registry: Stub, store: Store, tenant: str, device: str
) -> None:
    issued = issue_token(registry, tenant, device)
    set_row(store, storage.devices, device, state="decommissioned")
    assert code_of(lambda: authenticate_device(registry, issued.access_token)) == UNAUTHENTICATED
    before = row_counts(store)
    assert code_of(lambda: issue_token(registry, tenant, device)) == grpc.StatusCode.FAILED_PRECONDITION
    assert row_counts(store) == before
    assert credential_ids(registry, tenant, device) == [issued.credential.id]


def test_every_refused_token_gets_the_same_answer(
    registry: Stub, store: Store, tenant: str, clock: ManualClock
) -> None:
    devices = [insert_device(store, tenant) for _ in range(5)]
    tokens = [issue_token(registry, tenant, device) for device in devices]
    expiring = issue_token(
        registry, tenant, devices[0], valid_until=timestamp(clock.now + timedelta(minutes=1))
    )
    later = issue_token(registry, tenant, devices[0], valid_from=timestamp(clock.now + timedelta(days=1)))
    revoke_token(registry, tenant, devices[1], tokens[1].credential.id)
    set_row(store, storage.devices, devices[2], state="decommissioned")
    other_tenant = create_tenant(registry).tenant.id
    suspended = issue_token(registry, other_tenant, insert_device(store, other_tenant))
    set_row(store, storage.tenants, other_tenant, status="suspended")
    clock.advance(timedelta(minutes=1))
    secret = tokens[3].access_token
    refused = [
        "",
        "gdt_",
        "gdt_" + "f" * 32 + "_secret",
        secret[:-1] + ("A" if secret[-1] != "A" else "B"),
        secret + "\x00",
        "gnt" + secret[3:],
        tokens[4].access_token + "x" * 1_000_000,
        expiring.access_token,
        later.access_token,
        tokens[1].access_token,
        tokens[2].access_token,
        suspended.access_token,
    ]
    errors = [rpc_error(lambda t=token: authenticate_device(registry, t)) for token in refused]
    assert {(e.code(), e.details()) for e in errors} == {(UNAUTHENTICATED, "invalid access token")}
    assert authenticate_device(registry, secret).device_id == devices[3]


def test_another_tenants_devices_and_credentials_are_not_found(
    registry: Stub, store: Store, tenant: str, device: str
) -> None:
    issued = issue_token(registry, tenant, device)
    sibling = insert_device(store, tenant)
    stranger = create_tenant(registry).tenant.id
    credential = issued.credential.id
    calls = [
        lambda: issue_token(registry, stranger, device),
        lambda: issue_token(registry, tenant, str(uuid.uuid4())),
        lambda: credential_ids(registry, stranger, device),
        lambda: credential_ids(registry, tenant, str(uuid.uuid4())),
        lambda: revoke_token(registry, stranger, device, credential),
        lambda: revoke_token(registry, tenant, sibling, credential),
        lambda: revoke_token(registry, tenant, device, str(uuid.uuid4())),
    ]
    assert [code_of(call) for call in calls] == [grpc.StatusCode.NOT_FOUND] * len(calls)
    assert authenticate_device(registry, issued.access_token).credential_id == credential


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tenant_id": "not-a-uuid"}, "tenant_id"),
        ({"device_id": "x" * 100_000}, "device_id"),
        ({"device_id": "\x00"}, "device_id"),
        ({"valid_until": timestamp_pb2.Timestamp(seconds=1)}, "valid_until"),
        ({"valid_from": timestamp_pb2.Timestamp(seconds=-(2**40))}, "valid_from"),
        ({"valid_until": timestamp_pb2.Timestamp(seconds=2**62)}, "valid_until"),
    ],
)
def test_hostile_requests_for_tokens_are_refused_and_nothing_is_written(
    registry: Stub, store: Store, tenant: str, device: str, fields: dict[str, object], field: str
) -> None:
    request = pb.IssueDeviceCredentialRequest(**{"tenant_id": tenant, "device_id": device, **fields})
    before = row_counts(store)
    assert field in violations(lambda: registry.IssueDeviceCredential(request))
    assert row_counts(store) == before


def test_a_window_must_end_after_it_starts(
    registry: Stub, store: Store, tenant: str, device: str, clock: ManualClock
) -> None:
    start = timestamp(clock.now + timedelta(hours=2))
    before = row_counts(store)
    for end in (start, timestamp(clock.now + timedelta(hours=1))):
        request = pb.IssueDeviceCredentialRequest(
            tenant_id=tenant, device_id=device, valid_from=start, valid_until=end
        )
        assert violations(lambda r=request: registry.IssueDeviceCredential(r)) == {
            "valid_until": "must be after valid_from"
        }
    assert row_counts(store) == before


@pytest.mark.parametrize("field", ["tenant_id", "device_id", "credential_id"])
def test_malformed_ids_are_named(registry: Stub, tenant: str, device: str, field: str) -> None:
    ids = {
        "tenant_id": tenant,
        "device_id": device,
        "credential_id": str(uuid.uuid4()),
        field: "1' OR '1'='1",
    }
    assert field in violations(
        lambda: registry.RevokeDeviceCredential(pb.RevokeDeviceCredentialRequest(**ids))
    )
