"""Second factors (TOTP) through PeopleService on PostgreSQL: enrolment, challenges at
sign-in, codes accepted once, throttling, and a tenant that requires them."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pyotp
import pytest
from gantry.v1 import people_pb2 as pb

from tests.support import people as people_fixtures
from tests.support.access import code_of, rpc_error
from tests.support.people import (
    ADDRESS,
    OPERATOR,
    People,
    as_user,
    enrolled,
    invited,
    resolve,
    sign_in,
    signed_up,
)

# The fixtures of people's tests: PostgreSQL only, and PeopleService served on it.
database_url = people_fixtures.database_url
world = people_fixtures.world

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
def admin(world: People) -> pb.User:
    return signed_up(world, "ada@acme.example").admin


def complete(world: People, challenge: str, code: str) -> pb.Session:
    return world.people.CompleteSignIn(
        pb.CompleteSignInRequest(challenge_token=challenge, code=code, client_address=ADDRESS)
    )


def test_an_enrolled_user_signs_in_with_a_code_accepted_once(world: People, admin: pb.User) -> None:
    totp = enrolled(world, admin)
    assert world.people.GetUser(pb.GetUserRequest(actor=as_user(admin), user_id=admin.id)).two_factor_enrolled
    first = sign_in(world, admin.email)
    assert first.WhichOneof("outcome") == "second_factor_needed"
    code = totp.at(world.clock.now)
    session = complete(world, first.second_factor_needed.challenge_token, code)
    assert resolve(world, session.token).user.id == admin.id
    # The same code again, in a new sign-in within its time step, is refused.
    second = sign_in(world, admin.email)
    replayed = rpc_error(lambda: complete(world, second.second_factor_needed.challenge_token, code))
    assert (replayed.code(), replayed.details()) == (UNAUTHENTICATED, "wrong code")
    # A challenge serves once.
    used = rpc_error(lambda: complete(world, first.second_factor_needed.challenge_token, code))
    assert used.details() == "sign-in challenge is invalid or expired"
    world.clock.advance(timedelta(seconds=30))
    assert complete(world, second.second_factor_needed.challenge_token, totp.at(world.clock.now)).token


def test_a_challenge_expires_after_5_minutes(world: People, admin: pb.User) -> None:
    totp = enrolled(world, admin)
    challenge = sign_in(world, admin.email).second_factor_needed.challenge_token
    world.clock.advance(timedelta(minutes=5))
    refused = rpc_error(lambda: complete(world, challenge, totp.at(world.clock.now)))
    assert (refused.code(), refused.details()) == (UNAUTHENTICATED, "sign-in challenge is invalid or expired")


def test_wrong_codes_are_throttled_like_passwords(world: People, admin: pb.User) -> None:
    totp = enrolled(world, admin)
    challenge = sign_in(world, admin.email).second_factor_needed.challenge_token
    for _ in range(5):
        assert code_of(lambda: complete(world, challenge, "000000")) == UNAUTHENTICATED
    right = totp.at(world.clock.now)
    assert code_of(lambda: complete(world, challenge, right)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert code_of(lambda: sign_in(world, admin.email)) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_enrolment_is_confirmed_by_a_right_code_only(world: People, admin: pb.User) -> None:
    enrolment = world.people.StartTwoFactorEnrolment(pb.StartTwoFactorEnrolmentRequest(actor=as_user(admin)))
    assert enrolment.otpauth_uri.startswith("otpauth://totp/Gantry:ada%40acme.example?secret=")
    wrong = pb.ConfirmTwoFactorEnrolmentRequest(actor=as_user(admin), code="123")
    assert code_of(lambda: world.people.ConfirmTwoFactorEnrolment(wrong)) == UNAUTHENTICATED
    code = pyotp.TOTP(enrolment.secret).at(world.clock.now)
    confirmed = world.people.ConfirmTwoFactorEnrolment(
        pb.ConfirmTwoFactorEnrolmentRequest(actor=as_user(admin), code=code)
    )
    assert confirmed.two_factor_enrolled
    again = pb.StartTwoFactorEnrolmentRequest(actor=as_user(admin))
    assert code_of(lambda: world.people.StartTwoFactorEnrolment(again)) == grpc.StatusCode.FAILED_PRECONDITION
    # The code that confirmed the enrolment does not sign in.
    challenge = sign_in(world, admin.email).second_factor_needed.challenge_token
    assert code_of(lambda: complete(world, challenge, code)) == UNAUTHENTICATED
    operator_token = pb.StartTwoFactorEnrolmentRequest(actor=OPERATOR)
    assert (
        code_of(lambda: world.people.StartTwoFactorEnrolment(operator_token))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_a_tenant_that_requires_two_factor_gives_no_scope_until_the_user_enrols(
    world: People, admin: pb.User
) -> None:
    viewer = invited(world, admin, "vic@acme.example")
    required = world.people.SetTwoFactorRequired(
        pb.SetTwoFactorRequiredRequest(actor=as_user(admin), required=True)
    )
    assert (required.tenant_id, required.two_factor_required) == (admin.tenant_id, True)
    pending = sign_in(world, viewer.email).session
    assert pending.principal.two_factor_enrolment_pending and list(pending.principal.scopes) == []
    totp = enrolled(world, viewer)
    # Enrolled, the user rotates to a session that holds the role's scopes.
    rotated = world.people.RotateSession(pb.RotateSessionRequest(token=pending.token, client_address=ADDRESS))
    assert not rotated.principal.two_factor_enrolment_pending and list(rotated.principal.scopes)
    # From now on every sign-in asks for a code.
    challenge = sign_in(world, viewer.email).second_factor_needed.challenge_token
    world.clock.advance(timedelta(seconds=30))
    assert complete(world, challenge, totp.at(world.clock.now)).principal.user.id == viewer.id
    # A user disabled between the password and the code gets no session.
    challenge = sign_in(world, viewer.email).second_factor_needed.challenge_token
    world.people.SetUserStatus(
        pb.SetUserStatusRequest(actor=as_user(admin), user_id=viewer.id, status=pb.USER_STATUS_DISABLED)
    )
    world.clock.advance(timedelta(seconds=30))
    assert code_of(lambda: complete(world, challenge, totp.at(world.clock.now))) == UNAUTHENTICATED


def test_an_admin_resets_a_lost_second_factor_in_their_tenant_only(world: People, admin: pb.User) -> None:
    viewer = invited(world, admin, "vic@acme.example")
    enrolled(world, viewer)
    challenge = sign_in(world, viewer.email).second_factor_needed
    assert challenge.challenge_token
    other = signed_up(world, "olga@other.example").admin
    foreign = pb.ResetTwoFactorRequest(actor=as_user(other), user_id=viewer.id)
    assert code_of(lambda: world.people.ResetTwoFactor(foreign)) == grpc.StatusCode.NOT_FOUND
    by_viewer = pb.ResetTwoFactorRequest(actor=as_user(viewer), user_id=viewer.id)
    assert code_of(lambda: world.people.ResetTwoFactor(by_viewer)) == grpc.StatusCode.PERMISSION_DENIED
    reset = world.people.ResetTwoFactor(pb.ResetTwoFactorRequest(actor=as_user(admin), user_id=viewer.id))
    assert not reset.two_factor_enrolled
    assert sign_in(world, viewer.email).WhichOneof("outcome") == "session"
