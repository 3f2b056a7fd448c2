"""Companies signing up by themselves through PeopleService on PostgreSQL: open, approval
and closed modes, limits per client address and per e-mail domain, and abandoned
sign-ups pruned without a tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
from gantry.v1 import people_pb2 as pb
from gantry.v1 import registry_pb2

from services.kit.store import Store
from services.registry.domain_people import SignUpMode
from tests.integration.conftest import CapturedEvents
from tests.support import people as people_fixtures
from tests.support.access import ManualClock, code_of, row_counts, rpc_error, violations
from tests.support.people import (
    OPERATOR,
    People,
    as_user,
    people_server,
    policy,
    reason,
    retry_after,
    session_of,
    signed_up,
    start_sign_up,
)

# The fixtures of people's tests: PostgreSQL only, and PeopleService served on it.
database_url = people_fixtures.database_url
world = people_fixtures.world

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
def approving(store: Store, clock: ManualClock) -> Iterator[People]:
    with people_server(store, clock, policy(SignUpMode.APPROVAL)) as served:
        yield served


def confirm(world: People, token: str) -> pb.ConfirmSignUpResponse:
    return world.people.ConfirmSignUp(pb.ConfirmSignUpRequest(token=token))


def tenants_created(captured: CapturedEvents) -> list[dict]:
    bodies = [json.loads(body) for _, body in captured.drain()]
    return [body for body in bodies if body["type"] == "tenant.created"]


def test_an_open_sign_up_makes_the_tenant_and_its_admin_once_confirmed(
    world: People, captured: CapturedEvents, store: Store
) -> None:
    started = start_sign_up(world, "Ada@Acme.example", company_name="Acme Precision")
    assert (started.status, started.admin_email) == (pb.SIGN_UP_STATUS_PENDING, "ada@acme.example")
    assert row_counts(store)["tenants"] == 0
    done = confirm(world, started.confirmation_token)
    assert done.sign_up.status == pb.SIGN_UP_STATUS_COMPLETED and done.sign_up.tenant_id == done.tenant.id
    assert (done.tenant.name, done.admin.role, done.admin.tenant_id) == (
        "Acme Precision",
        pb.ROLE_ADMIN,
        done.tenant.id,
    )
    # As CreateTenant does: the tenant's event is published, and its first key works.
    store.relay.relay_pending()
    assert [e["tenant_id"] for e in tenants_created(captured)] == [done.tenant.id]
    identity = world.registry.AuthenticateApiKey(registry_pb2.AuthenticateApiKeyRequest(api_key=done.api_key))
    assert identity.tenant_id == done.tenant.id
    assert session_of(world, "ada@acme.example").principal.tenant_id == done.tenant.id
    again = rpc_error(lambda: confirm(world, started.confirmation_token))
    assert (again.code(), again.details()) == (UNAUTHENTICATED, "sign-up is invalid or expired")


def test_an_approval_sign_up_waits_for_the_operator(approving: People, store: Store) -> None:
    first = start_sign_up(approving, "ada@acme.example")
    approving.clock.advance(timedelta(seconds=1))
    second = start_sign_up(approving, "bob@bolt.example", company_name="Bolt Works")
    for started in (first, second):
        assert (
            confirm(approving, started.confirmation_token).sign_up.status
            == pb.SIGN_UP_STATUS_AWAITING_APPROVAL
        )
    assert row_counts(store)["tenants"] == 0
    waiting = approving.people.ListSignUps(
        pb.ListSignUpsRequest(actor=OPERATOR, status=pb.SIGN_UP_STATUS_AWAITING_APPROVAL)
    )
    assert [s.id for s in waiting.sign_ups] == [first.id, second.id] and waiting.page.total == 2
    approved = approving.people.ApproveSignUp(pb.DecideSignUpRequest(actor=OPERATOR, sign_up_id=first.id))
    assert approved.tenant.id and approved.admin.email == "ada@acme.example"
    rejected = approving.people.RejectSignUp(pb.DecideSignUpRequest(actor=OPERATOR, sign_up_id=second.id))
    assert rejected.status == pb.SIGN_UP_STATUS_REJECTED
    assert row_counts(store)["tenants"] == 1
    decided = pb.DecideSignUpRequest(actor=OPERATOR, sign_up_id=second.id)
    assert code_of(lambda: approving.people.ApproveSignUp(decided)) == grpc.StatusCode.FAILED_PRECONDITION
    # Only the operator decides or lists.
    admin = as_user(approved.admin)
    for call in (
        lambda: approving.people.ApproveSignUp(pb.DecideSignUpRequest(actor=admin, sign_up_id=second.id)),
        lambda: approving.people.ListSignUps(pb.ListSignUpsRequest(actor=admin)),
    ):
        assert code_of(call) == grpc.StatusCode.PERMISSION_DENIED


def test_a_closed_platform_takes_no_sign_up(store: Store, clock: ManualClock) -> None:
    with people_server(store, clock, policy(SignUpMode.CLOSED)) as closed:
        refused = rpc_error(lambda: start_sign_up(closed, "ada@acme.example"))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_sign_ups_are_limited_per_address_and_per_e_mail_domain(store: Store, clock: ManualClock) -> None:
    with people_server(store, clock, policy(per_address=2, per_domain=3)) as limited:
        start_sign_up(limited, "a@one.example")
        clock.advance(timedelta(minutes=10))
        start_sign_up(limited, "b@two.example")
        throttled = rpc_error(lambda: start_sign_up(limited, "c@three.example"))
        assert (
            throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            and reason(throttled) == "SIGN_UP_THROTTLED"
        )
        assert retry_after(throttled) == 50 * 60
        for n, address in enumerate(("192.0.2.1", "192.0.2.2")):
            start_sign_up(limited, f"{n}@two.example", client_address=address)
        by_domain = rpc_error(lambda: start_sign_up(limited, "x@two.example", client_address="192.0.2.3"))
        assert by_domain.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        clock.advance(timedelta(minutes=51))
        start_sign_up(limited, "c@three.example")


def test_sign_up_input_is_checked_field_by_field(world: People) -> None:
    bad = pb.StartSignUpRequest(
        company_name="",
        country="China",
        admin_email="nope",
        admin_name="",
        password="short",
        client_address="?",
    )
    assert set(violations(lambda: world.people.StartSignUp(bad))) == {
        "company_name",
        "country",
        "size_class",
        "admin_email",
        "admin_name",
        "password",
        "client_address",
    }


def test_a_taken_e_mail_is_told_only_at_confirmation(world: People, store: Store) -> None:
    signed_up(world, "ada@acme.example")
    # Starting reveals nothing; the holder of the mailed token learns it, and nothing is made.
    again = start_sign_up(world, "ADA@acme.example", company_name="Acme Again")
    taken = rpc_error(lambda: confirm(world, again.confirmation_token))
    assert (taken.code(), taken.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "a user with this e-mail exists",
    )
    assert row_counts(store)["tenants"] == 1


def test_an_abandoned_sign_up_is_pruned_and_leaves_no_tenant(world: People, store: Store) -> None:
    abandoned = start_sign_up(world, "ada@acme.example")
    kept = signed_up(world, "bob@bolt.example")
    world.clock.advance(timedelta(hours=24))
    assert code_of(lambda: confirm(world, abandoned.confirmation_token)) == UNAUTHENTICATED
    assert world.pruning().prune() >= 1
    counts = row_counts(store)
    assert (counts["sign_ups"], counts["tenants"], counts["users"]) == (1, 1, 1)
    assert kept.tenant.id
