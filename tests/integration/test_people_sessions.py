"""Sign-in sessions through PeopleService on PostgreSQL: sign-in, resolution, expiry,
rotation, sign-out, throttling per account and per address, and no enumeration of e-mails."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import grpc
import pytest
from argon2 import PasswordHasher
from gantry.v1 import people_pb2 as pb
from sqlalchemy import select

from services.kit.store import Store
from services.registry import storage
from services.registry.domain_people import csrf_secret, needs_rehash, token_hash
from tests.support import people as people_fixtures
from tests.support.access import code_of, rpc_error, set_row, violations
from tests.support.people import (
    OPERATOR,
    PASSWORD,
    People,
    as_user,
    invited,
    reason,
    resolve,
    retry_after,
    session_of,
    sign_in,
    signed_up,
)

# The fixtures of people's tests: PostgreSQL only, and PeopleService served on it.
database_url = people_fixtures.database_url
world = people_fixtures.world

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
EMAIL = "ada@acme.example"


@pytest.fixture
def admin(world: People) -> pb.User:
    return signed_up(world, EMAIL).admin


def last_used(store: Store, session_id: str) -> object:
    with store.engine.connect() as connection:
        query = select(storage.user_sessions.c.last_used_at).where(storage.user_sessions.c.id == session_id)
        return connection.execute(query).scalar_one()


def test_a_session_resolves_to_its_user_tenant_role_scopes_and_csrf_secret(
    world: People, admin: pb.User, store: Store
) -> None:
    session = session_of(world, "ADA@acme.example")
    principal = resolve(world, session.token)
    assert principal == session.principal
    assert (principal.user.id, principal.tenant_id, principal.role) == (
        admin.id,
        admin.tenant_id,
        pb.ROLE_ADMIN,
    )
    assert "admin" in principal.scopes and principal.csrf_secret == csrf_secret(session.token)
    assert principal.idle_expires_at.ToDatetime() - world.clock.now.replace(tzinfo=None) == timedelta(
        hours=12
    )
    # Only the token's hash is stored.
    with store.engine.connect() as connection:
        stored = connection.execute(select(storage.user_sessions.c.token_hash)).scalars().all()
    assert stored == [token_hash(session.token)] and session.token not in stored


def test_resolving_slides_the_idle_expiry_at_most_once_a_minute(
    world: People, admin: pb.User, store: Store
) -> None:
    session = session_of(world, EMAIL)
    started = last_used(store, session.principal.session_id)
    world.clock.advance(timedelta(seconds=59))
    resolve(world, session.token)
    assert last_used(store, session.principal.session_id) == started
    world.clock.advance(timedelta(seconds=1))
    resolve(world, session.token)
    assert last_used(store, session.principal.session_id) == world.clock.now


def test_a_session_ends_after_12_idle_hours(world: People, admin: pb.User) -> None:
    token = session_of(world, EMAIL).token
    world.clock.advance(timedelta(hours=11))
    resolve(world, token)
    world.clock.advance(timedelta(hours=12))
    refused = rpc_error(lambda: resolve(world, token))
    assert (refused.code(), refused.details()) == (UNAUTHENTICATED, "session is invalid or expired")


def test_a_session_in_use_ends_after_7_days(world: People, admin: pb.User) -> None:
    token = session_of(world, EMAIL).token
    for _ in range(15):
        world.clock.advance(timedelta(hours=11))
        resolve(world, token)
    world.clock.advance(timedelta(hours=3))  # 7 days and 1 hour since the sign-in
    assert code_of(lambda: resolve(world, token)) == UNAUTHENTICATED


def test_every_sign_in_and_every_rotation_makes_a_new_token(world: People, admin: pb.User) -> None:
    first, second = session_of(world, EMAIL), session_of(world, EMAIL)
    assert first.token != second.token
    rotated = world.people.RotateSession(
        pb.RotateSessionRequest(token=first.token, client_address="198.51.100.2")
    )
    assert rotated.token not in (first.token, second.token)
    assert rotated.principal.csrf_secret != first.principal.csrf_secret
    assert code_of(lambda: resolve(world, first.token)) == UNAUTHENTICATED
    assert resolve(world, rotated.token).user.id == admin.id
    assert resolve(world, second.token).user.id == admin.id


def test_sign_out_ends_one_session_and_sign_out_everywhere_every_one(world: People, admin: pb.User) -> None:
    viewer = invited(world, admin, "vic@acme.example")
    tokens = [session_of(world, viewer.email).token for _ in range(3)]
    assert world.people.SignOut(pb.SignOutRequest(token=tokens[0])).ended == 1
    assert world.people.SignOut(pb.SignOutRequest(token=tokens[0])).ended == 0
    assert code_of(lambda: resolve(world, tokens[0])) == UNAUTHENTICATED
    resolve(world, tokens[1])
    ended = world.people.SignOutEverywhere(
        pb.SignOutEverywhereRequest(actor=as_user(admin), user_id=viewer.id)
    )
    assert ended.ended == 2
    for token in tokens[1:]:
        assert code_of(lambda token=token: resolve(world, token)) == UNAUTHENTICATED
    # The user themselves, and the operator, may as well.
    session_of(world, viewer.email)
    assert (
        world.people.SignOutEverywhere(
            pb.SignOutEverywhereRequest(actor=as_user(viewer), user_id=viewer.id)
        ).ended
        == 1
    )
    session_of(world, viewer.email)
    assert (
        world.people.SignOutEverywhere(pb.SignOutEverywhereRequest(actor=OPERATOR, user_id=viewer.id)).ended
        == 1
    )


def test_five_failures_lock_the_account_for_15_minutes_whatever_the_password(
    world: People, admin: pb.User
) -> None:
    for _ in range(5):
        assert code_of(lambda: sign_in(world, EMAIL, "wrong password!")) == UNAUTHENTICATED
    locked = rpc_error(lambda: sign_in(world, EMAIL))
    assert locked.code() == EXHAUSTED and reason(locked) == "SIGN_IN_THROTTLED"
    assert retry_after(locked) == 15 * 60
    world.clock.advance(timedelta(minutes=10))
    assert retry_after(rpc_error(lambda: sign_in(world, EMAIL, address="198.51.100.9"))) == 5 * 60
    world.clock.advance(timedelta(minutes=5))
    assert sign_in(world, EMAIL).session.token
    # A success clears the account's failures.
    for _ in range(4):
        code_of(lambda: sign_in(world, EMAIL, "wrong password!"))
    assert sign_in(world, EMAIL).session.token


def test_an_unknown_e_mail_is_throttled_as_a_known_one(world: People) -> None:
    for _ in range(5):
        assert code_of(lambda: sign_in(world, "nobody@acme.example")) == UNAUTHENTICATED
    assert code_of(lambda: sign_in(world, "nobody@acme.example")) == EXHAUSTED


def test_twenty_failures_from_one_address_throttle_it_for_every_account(
    world: People, admin: pb.User
) -> None:
    for n in range(20):
        assert (
            code_of(lambda n=n: sign_in(world, f"guess{n}@acme.example", address="192.0.2.50"))
            == UNAUTHENTICATED
        )
    throttled = rpc_error(lambda: sign_in(world, EMAIL, address="192.0.2.50"))
    assert throttled.code() == EXHAUSTED and 0 < retry_after(throttled) <= 15 * 60
    # Other addresses, and so the account itself, are not held back.
    assert sign_in(world, EMAIL, address="192.0.2.51").session.token


def test_an_unknown_e_mail_and_a_wrong_password_answer_alike_and_take_alike(
    world: People, admin: pb.User
) -> None:
    unknown = rpc_error(lambda: sign_in(world, "nobody@acme.example"))
    wrong = rpc_error(lambda: sign_in(world, EMAIL, "not the password"))
    assert (unknown.code(), unknown.details()) == (wrong.code(), wrong.details())
    assert unknown.details() == "wrong e-mail or password"

    def seconds(email: str, password: str) -> float:
        started = time.perf_counter()
        code_of(lambda: sign_in(world, email, password))
        return time.perf_counter() - started

    # Alternated, so that a slow moment of the machine falls on both alike; without the
    # decoy hash an unknown e-mail would answer a hundred times sooner.
    unknowns, wrongs = [], []
    for n in range(4):
        unknowns.append(seconds(f"nobody{n}@acme.example", "not the password"))
        wrongs.append(seconds(EMAIL, "not the password"))
        world.clock.advance(timedelta(minutes=15))
    assert statistics.median(unknowns) > 0.5 * statistics.median(wrongs)


def test_sign_in_input_is_checked_field_by_field(world: People) -> None:
    bad = pb.SignInRequest(email="no-at-sign", password="", client_address="somewhere")
    assert set(violations(lambda: world.people.SignIn(bad))) == {"email", "password", "client_address"}
    assert code_of(lambda: resolve(world, "")) == UNAUTHENTICATED
    assert code_of(lambda: resolve(world, "x" * 500)) == UNAUTHENTICATED


def test_a_user_may_not_sign_out_another_user_of_the_tenant(world: People, admin: pb.User) -> None:
    viewer = invited(world, admin, "vic@acme.example")
    request = pb.SignOutEverywhereRequest(actor=as_user(viewer), user_id=admin.id)
    assert code_of(lambda: world.people.SignOutEverywhere(request)) == grpc.StatusCode.PERMISSION_DENIED


def test_a_password_hashed_with_older_parameters_is_rehashed_at_sign_in(
    world: People, admin: pb.User, store: Store
) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    set_row(store, storage.users, admin.id, password_hash=weaker)
    sign_in(world, EMAIL)
    with store.engine.connect() as connection:
        query = select(storage.users.c.password_hash).where(storage.users.c.id == admin.id)
        rehashed = connection.execute(query).scalar_one()
    assert rehashed != weaker and not needs_rehash(rehashed)
    assert sign_in(world, EMAIL).session.token
