"""Tenants, users and sessions for the console's tests, made through the registry's real
PeopleService over gRPC (self sign-up in open mode, or approved by the operator): for the
people pages' own registry, and for the whole platform's (`tests/support/plant.py`)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
import pyotp
from gantry.v1 import people_pb2 as pb
from gantry.v1 import people_pb2_grpc, registry_pb2

PASSWORD = "correct horse battery"
OPERATOR = pb.Actor(operator=True)
# Sign-ups are limited per client address: each gets an address of its own (TEST-NET-2).
_addresses = (f"198.51.100.{n % 250 + 1}" for n in itertools.count(uuid.uuid4().int % 250))


@dataclass(frozen=True)
class Person:
    user: pb.User
    email: str
    password: str = PASSWORD

    @property
    def actor(self) -> pb.Actor:
        return pb.Actor(tenant_id=self.user.tenant_id, user_id=self.user.id)


@contextmanager
def people_client(target: str) -> Iterator[people_pb2_grpc.PeopleServiceStub]:
    with grpc.insecure_channel(target) as channel:
        yield people_pb2_grpc.PeopleServiceStub(channel)


def unique_email(who: str) -> str:
    """An address of a domain of its own (sign-ups are limited per domain too)."""
    return f"{who}@{uuid.uuid4().hex[:10]}.example.test"


def new_tenant_admin(people: people_pb2_grpc.PeopleServiceStub, company: str = "Acme Precision") -> Person:
    """A tenant and its first admin, through sign-up; approved by the operator when the
    registry waits for approval."""
    confirmed, email = signed_up(people, company)
    return Person(confirmed.admin, email)


def signed_up(
    people: people_pb2_grpc.PeopleServiceStub, company: str
) -> tuple[pb.ConfirmSignUpResponse, str]:
    """A company signed up and confirmed (and approved, when the registry waits for the
    operator): its tenant, first admin and API key, and the admin's e-mail address."""
    email = unique_email("admin")
    started = people.StartSignUp(
        pb.StartSignUpRequest(
            company_name=company,
            country="CN",
            size_class=registry_pb2.SIZE_CLASS_SMALL,
            admin_email=email,
            admin_name="Ada Admin",
            password=PASSWORD,
            client_address=next(_addresses),
        )
    )
    confirmed = people.ConfirmSignUp(pb.ConfirmSignUpRequest(token=started.confirmation_token))
    if confirmed.sign_up.status == pb.SIGN_UP_STATUS_AWAITING_APPROVAL:
        confirmed = people.ApproveSignUp(pb.DecideSignUpRequest(actor=OPERATOR, sign_up_id=started.id))
    return confirmed, email


def new_user(
    people: people_pb2_grpc.PeopleServiceStub, admin: Person, role: int = pb.ROLE_VIEWER, name: str = "Ed"
) -> Person:
    email = unique_email("user")
    invitation = people.InviteUser(pb.InviteUserRequest(actor=admin.actor, email=email, name=name, role=role))
    user = people.AcceptInvitation(pb.AcceptInvitationRequest(token=invitation.token, password=PASSWORD))
    return Person(user, email)


def new_operator(people: people_pb2_grpc.PeopleServiceStub) -> Person:
    email = unique_email("operator")
    user = people.CreateOperator(
        pb.CreateOperatorRequest(actor=OPERATOR, email=email, name="Olga Operator", password=PASSWORD)
    )
    return Person(user, email)


def signed_in(people: people_pb2_grpc.PeopleServiceStub, person: Person) -> pb.Session:
    """A new session of the person, who has no second factor."""
    answer = people.SignIn(
        pb.SignInRequest(email=person.email, password=person.password, client_address=next(_addresses))
    )
    return answer.session


def session_token(people: people_pb2_grpc.PeopleServiceStub, person: Person) -> str:
    return signed_in(people, person).token


def enrolled(people: people_pb2_grpc.PeopleServiceStub, person: Person) -> pyotp.TOTP:
    """The person enrolled in TOTP, confirmed with the previous step's code so that the
    current one stays unused; the authenticator that makes their codes."""
    enrolment = people.StartTwoFactorEnrolment(pb.StartTwoFactorEnrolmentRequest(actor=person.actor))
    totp = pyotp.TOTP(enrolment.secret)
    code = totp.at(time.time(), counter_offset=-1)
    people.ConfirmTwoFactorEnrolment(pb.ConfirmTwoFactorEnrolmentRequest(actor=person.actor, code=code))
    return totp
