"""Conversions between PeopleService's protobuf messages and the people use cases' values."""

from __future__ import annotations

from gantry.v1 import people_pb2 as pb
from gantry.v1 import registry_pb2

from services.kit.protos import enum_name, enum_number
from services.registry.api.messages import tenant_message, timestamp_fields
from services.registry.domain_people import Role, SignUpStatus, User, UserStatus
from services.registry.usecases.people import IssuedToken
from services.registry.usecases.people_access import Actor
from services.registry.usecases.people_sessions import NewSession, Principal
from services.registry.usecases.people_signup import Completed, SignUp


def actor(message: pb.Actor) -> Actor:
    return Actor(operator=message.operator, tenant_id=message.tenant_id, user_id=message.user_id)


def role(number: int) -> Role | None:
    name = enum_name(pb.Role, number, "ROLE_")
    return Role(name) if name else None


def user_status(number: int) -> UserStatus | None:
    name = enum_name(pb.UserStatus, number, "USER_STATUS_")
    return UserStatus(name) if name else None


def sign_up_status(number: int) -> SignUpStatus | None:
    name = enum_name(pb.SignUpStatus, number, "SIGN_UP_STATUS_")
    return SignUpStatus(name) if name else None


def user_message(user: User) -> pb.User:
    return pb.User(
        id=user.id,
        tenant_id=user.tenant_id or "",
        email=user.email,
        name=user.name,
        role=enum_number(pb.Role, user.role, "ROLE_"),
        status=enum_number(pb.UserStatus, user.status, "USER_STATUS_"),
        two_factor_enrolled=user.totp_confirmed,
        version=user.version,
        **timestamp_fields(created_at=user.created_at, updated_at=user.updated_at),
    )


def principal_message(principal: Principal) -> pb.Principal:
    session, user = principal.session, principal.user
    return pb.Principal(
        session_id=session.id,
        user=user_message(user),
        tenant_id=user.tenant_id or "",
        role=enum_number(pb.Role, user.role, "ROLE_"),
        scopes=principal.scopes,
        csrf_secret=principal.csrf_secret,
        two_factor_enrolment_pending=principal.enrolment_pending,
        **timestamp_fields(
            idle_expires_at=session.idle_expires_at, absolute_expires_at=session.absolute_expires_at
        ),
    )


def session_message(session: NewSession) -> pb.Session:
    return pb.Session(token=session.token, principal=principal_message(session.principal))


def invitation_message(issued: IssuedToken) -> pb.Invitation:
    return pb.Invitation(
        id=issued.id,
        tenant_id=issued.tenant_id or "",
        email=issued.email,
        name=issued.name,
        role=enum_number(pb.Role, issued.role, "ROLE_"),
        token=issued.token,
        **timestamp_fields(expires_at=issued.expires_at),
    )


def password_reset_message(issued: IssuedToken) -> pb.PasswordReset:
    return pb.PasswordReset(
        user_id=issued.user_id or "", token=issued.token, **timestamp_fields(expires_at=issued.expires_at)
    )


def sign_up_message(sign_up: SignUp) -> pb.SignUp:
    return pb.SignUp(
        id=sign_up.id,
        company_name=sign_up.company_name,
        country=sign_up.country,
        size_class=enum_number(registry_pb2.SizeClass, sign_up.size_class, "SIZE_CLASS_"),
        admin_email=sign_up.admin_email,
        admin_name=sign_up.admin_name,
        status=enum_number(pb.SignUpStatus, sign_up.status, "SIGN_UP_STATUS_"),
        confirmation_token=sign_up.confirmation_token,
        tenant_id=sign_up.tenant_id or "",
        **timestamp_fields(created_at=sign_up.created_at, expires_at=sign_up.expires_at),
    )


def completed_message(completed: Completed) -> pb.ConfirmSignUpResponse:
    response = pb.ConfirmSignUpResponse(sign_up=sign_up_message(completed.sign_up))
    if completed.tenant is not None and completed.admin is not None and completed.api_key is not None:
        response.tenant.CopyFrom(tenant_message(completed.tenant))
        response.admin.CopyFrom(user_message(completed.admin))
        response.api_key = completed.api_key.presented
    return response
