"""Users of a tenant through PeopleService on PostgreSQL: operators, invitations, roles,
status, password resets, and every admin call refused across tenants."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from gantry.v1 import common_pb2, registry_pb2
from gantry.v1 import people_pb2 as pb
from google.protobuf import field_mask_pb2

from services.registry.domain_people import ROLE_SCOPES, Role
from tests.support import people as people_fixtures
from tests.support.access import code_of, rpc_error, violations
from tests.support.people import (
    OPERATOR,
    PASSWORD,
    People,
    as_user,
    invited,
    resolve,
    session_of,
    sign_in,
    signed_up,
)

# The fixtures of people's tests: PostgreSQL only, and PeopleService served on it.
database_url = people_fixtures.database_url
world = people_fixtures.world

NOT_FOUND = grpc.StatusCode.NOT_FOUND
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
def admin(world: People) -> pb.User:
    return signed_up(world, "ada@acme.example").admin


@pytest.fixture
def other_admin(world: People) -> pb.User:
    return signed_up(world, "olga@other.example").admin


def test_an_operator_creates_operators_who_sign_in_with_the_operator_scope(world: People) -> None:
    operator = world.people.CreateOperator(
        pb.CreateOperatorRequest(
            actor=OPERATOR, email="Root@Platform.Example", name="Rita", password=PASSWORD
        )
    )
    assert (operator.tenant_id, operator.role, operator.email) == (
        "",
        pb.ROLE_OPERATOR,
        "root@platform.example",
    )
    principal = session_of(world, "ROOT@platform.example").principal
    assert (list(principal.scopes), principal.tenant_id) == (["operator"], "")
    # The operator person creates operators too; a tenant's admin may not.
    world.people.CreateOperator(
        pb.CreateOperatorRequest(
            actor=as_user(operator), email="sam@platform.example", name="Sam", password=PASSWORD
        )
    )


def test_only_operators_create_operators(world: People, admin: pb.User) -> None:
    request = pb.CreateOperatorRequest(
        actor=as_user(admin), email="x@platform.example", name="X", password=PASSWORD
    )
    assert code_of(lambda: world.people.CreateOperator(request)) == DENIED


def test_an_invited_person_becomes_a_user_of_the_tenant_with_the_scopes_of_their_role(
    world: People, admin: pb.User
) -> None:
    engineer = invited(world, admin, "Eve@Acme.example", pb.ROLE_ENGINEER)
    assert (engineer.tenant_id, engineer.role, engineer.status) == (
        admin.tenant_id,
        pb.ROLE_ENGINEER,
        pb.USER_STATUS_ACTIVE,
    )
    principal = session_of(world, "eve@acme.example").principal
    assert tuple(principal.scopes) == ROLE_SCOPES[Role.ENGINEER]
    assert "admin" not in principal.scopes and "devices:write" in principal.scopes
    assert tuple(session_of(world, "ada@acme.example").principal.scopes) == ROLE_SCOPES[Role.ADMIN]


def test_the_operator_invites_a_tenants_first_admin_and_nobody_invites_into_another_tenant(
    world: People, admin: pb.User, other_admin: pb.User
) -> None:
    invitation = world.people.InviteUser(
        pb.InviteUserRequest(
            actor=OPERATOR,
            email="first@acme.example",
            name="Fay",
            role=pb.ROLE_ADMIN,
            tenant_id=admin.tenant_id,
        )
    )
    first = world.people.AcceptInvitation(
        pb.AcceptInvitationRequest(token=invitation.token, password=PASSWORD)
    )
    assert (first.tenant_id, first.role) == (admin.tenant_id, pb.ROLE_ADMIN)

    def invite(actor: pb.Actor, tenant_id: str) -> Callable[[], pb.Invitation]:
        request = pb.InviteUserRequest(
            actor=actor, email="zed@acme.example", name="Zed", role=pb.ROLE_VIEWER, tenant_id=tenant_id
        )
        return lambda: world.people.InviteUser(request)

    assert violations(invite(OPERATOR, "")) == {"tenant_id": "the operator names the tenant to invite to"}
    assert set(violations(invite(OPERATOR, "not-a-uuid"))) == {"tenant_id"}
    assert code_of(invite(OPERATOR, str(uuid.uuid4()))) == NOT_FOUND
    assert code_of(invite(as_user(other_admin), admin.tenant_id)) == NOT_FOUND
    # An admin may name their own tenant, or none.
    assert invite(as_user(admin), admin.tenant_id)().tenant_id == admin.tenant_id


def test_an_invitation_is_accepted_once_and_expires_after_72_hours(world: People, admin: pb.User) -> None:
    invite = pb.InviteUserRequest(
        actor=as_user(admin), email="vic@acme.example", name="Vic", role=pb.ROLE_VIEWER
    )
    first, second = world.people.InviteUser(invite), world.people.InviteUser(invite)
    world.people.AcceptInvitation(pb.AcceptInvitationRequest(token=first.token, password=PASSWORD))
    again = rpc_error(
        lambda: world.people.AcceptInvitation(
            pb.AcceptInvitationRequest(token=first.token, password=PASSWORD)
        )
    )
    assert (again.code(), again.details()) == (UNAUTHENTICATED, "invitation is invalid or expired")
    # A second invitation of an e-mail that is a user's now cannot make a second user.
    assert (
        code_of(
            lambda: world.people.AcceptInvitation(
                pb.AcceptInvitationRequest(token=second.token, password=PASSWORD)
            )
        )
        == grpc.StatusCode.ALREADY_EXISTS
    )
    late = world.people.InviteUser(
        pb.InviteUserRequest(actor=as_user(admin), email="lou@acme.example", name="Lou", role=pb.ROLE_VIEWER)
    )
    world.clock.advance(timedelta(hours=72))
    expired = rpc_error(
        lambda: world.people.AcceptInvitation(pb.AcceptInvitationRequest(token=late.token, password=PASSWORD))
    )
    assert (expired.code(), expired.details()) == (UNAUTHENTICATED, "invitation is invalid or expired")


def test_bad_e_mail_weak_password_and_wrong_role_are_named_fields(world: People, admin: pb.User) -> None:
    bad_invite = pb.InviteUserRequest(
        actor=as_user(admin), email="not-an-email", name="", role=pb.ROLE_OPERATOR
    )
    assert set(violations(lambda: world.people.InviteUser(bad_invite))) == {"email", "name", "role"}
    invitation = world.people.InviteUser(
        pb.InviteUserRequest(actor=as_user(admin), email="wes@acme.example", name="Wes", role=pb.ROLE_VIEWER)
    )
    for weak in ("short", "x" * 129, "WES@acme.example"):
        refused = violations(
            lambda weak=weak: world.people.AcceptInvitation(
                pb.AcceptInvitationRequest(token=invitation.token, password=weak)
            )
        )
        assert set(refused) == {"password"}
    # A refused acceptance leaves the invitation usable.
    world.people.AcceptInvitation(pb.AcceptInvitationRequest(token=invitation.token, password=PASSWORD))


def test_an_e_mail_is_unique_on_the_platform_whatever_its_case(
    world: People, admin: pb.User, other_admin: pb.User
) -> None:
    request = pb.InviteUserRequest(
        actor=as_user(other_admin), email="ADA@acme.example", name="A", role=pb.ROLE_VIEWER
    )
    assert code_of(lambda: world.people.InviteUser(request)) == grpc.StatusCode.ALREADY_EXISTS


def test_users_are_listed_a_page_at_a_time_within_the_tenant(
    world: People, admin: pb.User, other_admin: pb.User
) -> None:
    for n in range(3):
        world.clock.advance(timedelta(seconds=1))
        invited(world, admin, f"user{n}@acme.example")
    first = world.people.ListUsers(
        pb.ListUsersRequest(actor=as_user(admin), page=common_pb2.PageRequest(page_size=3))
    )
    second = world.people.ListUsers(
        pb.ListUsersRequest(
            actor=as_user(admin), page=common_pb2.PageRequest(page_size=3, cursor=first.page.next_cursor)
        )
    )
    emails = [u.email for u in [*first.users, *second.users]]
    assert emails == ["ada@acme.example", "user0@acme.example", "user1@acme.example", "user2@acme.example"]
    assert (first.page.total, second.page.next_cursor) == (4, "")
    by_operator = world.people.ListUsers(pb.ListUsersRequest(actor=OPERATOR, tenant_id=other_admin.tenant_id))
    assert [u.email for u in by_operator.users] == ["olga@other.example"]
    # A user names no tenant but their own.
    naming = pb.ListUsersRequest(actor=as_user(admin), tenant_id=other_admin.tenant_id)
    assert set(violations(lambda: world.people.ListUsers(naming))) == {"tenant_id"}


def test_every_admin_call_on_another_tenants_user_is_not_found(
    world: People, admin: pb.User, other_admin: pb.User
) -> None:
    foreign, actor = other_admin.id, as_user(admin)
    calls = [
        lambda: world.people.GetUser(pb.GetUserRequest(actor=actor, user_id=foreign)),
        lambda: world.people.SetUserStatus(
            pb.SetUserStatusRequest(actor=actor, user_id=foreign, status=pb.USER_STATUS_DISABLED)
        ),
        lambda: world.people.ChangeRole(
            pb.ChangeRoleRequest(actor=actor, user_id=foreign, role=pb.ROLE_VIEWER)
        ),
        lambda: world.people.StartPasswordReset(pb.StartPasswordResetRequest(actor=actor, user_id=foreign)),
        lambda: world.people.SignOutEverywhere(pb.SignOutEverywhereRequest(actor=actor, user_id=foreign)),
    ]
    for call in calls:
        assert code_of(call) == NOT_FOUND
    # An actor claiming another tenant than their own cannot act at all.
    lying = pb.Actor(tenant_id=other_admin.tenant_id, user_id=admin.id)
    assert (
        code_of(lambda: world.people.GetUser(pb.GetUserRequest(actor=lying, user_id=foreign)))
        == UNAUTHENTICATED
    )
    assert world.people.GetUser(pb.GetUserRequest(actor=as_user(other_admin), user_id=foreign)).id == foreign


def test_roles_other_than_admin_may_not_administer_people(world: People, admin: pb.User) -> None:
    engineer = invited(world, admin, "eng@acme.example", pb.ROLE_ENGINEER)
    viewer = invited(world, admin, "view@acme.example", pb.ROLE_VIEWER)
    actor = as_user(engineer)
    calls = [
        lambda: world.people.InviteUser(
            pb.InviteUserRequest(actor=actor, email="n@acme.example", name="N", role=pb.ROLE_ADMIN)
        ),
        lambda: world.people.SetUserStatus(
            pb.SetUserStatusRequest(actor=actor, user_id=viewer.id, status=pb.USER_STATUS_DISABLED)
        ),
        lambda: world.people.ChangeRole(
            pb.ChangeRoleRequest(actor=actor, user_id=engineer.id, role=pb.ROLE_ADMIN)
        ),
        lambda: world.people.StartPasswordReset(pb.StartPasswordResetRequest(actor=actor, user_id=viewer.id)),
        lambda: world.people.SignOutEverywhere(pb.SignOutEverywhereRequest(actor=actor, user_id=viewer.id)),
        lambda: world.people.SetTwoFactorRequired(pb.SetTwoFactorRequiredRequest(actor=actor, required=True)),
    ]
    for call in calls:
        assert code_of(call) == DENIED
    # Any role reads the people of its own tenant.
    assert (
        world.people.GetUser(pb.GetUserRequest(actor=as_user(viewer), user_id=admin.id)).email == admin.email
    )


def test_disabling_a_user_refuses_their_session_at_once_and_enabling_lets_them_sign_in(
    world: People, admin: pb.User
) -> None:
    viewer = invited(world, admin, "vera@acme.example")
    token = session_of(world, viewer.email).token
    resolve(world, token)
    disabled = world.people.SetUserStatus(
        pb.SetUserStatusRequest(actor=as_user(admin), user_id=viewer.id, status=pb.USER_STATUS_DISABLED)
    )
    assert disabled.status == pb.USER_STATUS_DISABLED
    assert code_of(lambda: resolve(world, token)) == UNAUTHENTICATED
    refused = rpc_error(lambda: sign_in(world, viewer.email))
    assert (refused.code(), refused.details()) == (UNAUTHENTICATED, "wrong e-mail or password")
    # A disabled user acts no more either.
    assert (
        code_of(lambda: world.people.GetUser(pb.GetUserRequest(actor=as_user(viewer), user_id=viewer.id)))
        == UNAUTHENTICATED
    )
    world.people.SetUserStatus(
        pb.SetUserStatusRequest(
            actor=as_user(admin),
            user_id=viewer.id,
            status=pb.USER_STATUS_ACTIVE,
            expected_version=disabled.version,
        )
    )
    # The old session stays ended; a new sign-in works.
    assert code_of(lambda: resolve(world, token)) == UNAUTHENTICATED
    resolve(world, session_of(world, viewer.email).token)


def test_a_stale_version_changes_nothing(world: People, admin: pb.User) -> None:
    viewer = invited(world, admin, "stale@acme.example")
    stale = pb.ChangeRoleRequest(
        actor=as_user(admin), user_id=viewer.id, role=pb.ROLE_ENGINEER, expected_version=7
    )
    assert code_of(lambda: world.people.ChangeRole(stale)) == grpc.StatusCode.ABORTED


def test_a_role_change_ends_the_users_sessions_so_the_new_role_comes_with_a_new_session(
    world: People, admin: pb.User
) -> None:
    viewer = invited(world, admin, "rory@acme.example")
    token = session_of(world, viewer.email).token
    changed = world.people.ChangeRole(
        pb.ChangeRoleRequest(actor=as_user(admin), user_id=viewer.id, role=pb.ROLE_ENGINEER)
    )
    assert changed.role == pb.ROLE_ENGINEER
    assert code_of(lambda: resolve(world, token)) == UNAUTHENTICATED
    fresh = session_of(world, viewer.email)
    assert fresh.token != token and tuple(fresh.principal.scopes) == ROLE_SCOPES[Role.ENGINEER]
    # Admins do not change or disable themselves, so that the tenant keeps an admin.
    own = pb.ChangeRoleRequest(actor=as_user(admin), user_id=admin.id, role=pb.ROLE_VIEWER)
    assert code_of(lambda: world.people.ChangeRole(own)) == grpc.StatusCode.FAILED_PRECONDITION


def test_a_password_reset_is_used_once_within_an_hour_and_signs_out_everywhere(
    world: People, admin: pb.User
) -> None:
    viewer = invited(world, admin, "paula@acme.example")
    sessions = [session_of(world, viewer.email).token for _ in range(2)]
    reset = world.people.StartPasswordReset(
        pb.StartPasswordResetRequest(actor=as_user(admin), user_id=viewer.id)
    )
    weak = pb.ResetPasswordRequest(token=reset.token, password="short")
    assert set(violations(lambda: world.people.ResetPassword(weak))) == {"password"}
    world.people.ResetPassword(pb.ResetPasswordRequest(token=reset.token, password="a new long password"))
    for token in sessions:
        assert code_of(lambda token=token: resolve(world, token)) == UNAUTHENTICATED
    assert code_of(lambda: sign_in(world, viewer.email)) == UNAUTHENTICATED
    sign_in(world, viewer.email, "a new long password")
    used = rpc_error(
        lambda: world.people.ResetPassword(pb.ResetPasswordRequest(token=reset.token, password=PASSWORD))
    )
    assert (used.code(), used.details()) == (UNAUTHENTICATED, "password reset is invalid or expired")
    late = world.people.StartPasswordReset(
        pb.StartPasswordResetRequest(actor=as_user(admin), user_id=viewer.id)
    )
    world.clock.advance(timedelta(hours=1))
    assert (
        code_of(
            lambda: world.people.ResetPassword(pb.ResetPasswordRequest(token=late.token, password=PASSWORD))
        )
        == UNAUTHENTICATED
    )


def test_a_suspended_tenants_users_cannot_sign_in_or_act(world: People, admin: pb.User) -> None:
    token = session_of(world, admin.email).token
    tenant = world.registry.GetTenant(registry_pb2.GetTenantRequest(tenant_id=admin.tenant_id))
    world.registry.UpdateTenant(
        registry_pb2.UpdateTenantRequest(
            tenant_id=tenant.id,
            expected_version=tenant.version,
            status=registry_pb2.TENANT_STATUS_SUSPENDED,
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        )
    )
    assert code_of(lambda: resolve(world, token)) == UNAUTHENTICATED
    assert rpc_error(lambda: sign_in(world, admin.email)).details() == "wrong e-mail or password"
    assert code_of(
        lambda: world.people.GetUser(pb.GetUserRequest(actor=as_user(admin), user_id=admin.id))
    ) == (UNAUTHENTICATED)
