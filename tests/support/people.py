"""Helpers of the tests of people: PeopleService and RegistryService on one real gRPC
server over a real PostgreSQL database, tenants made through self sign-up, and users
invited into them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import pyotp
import pytest
from gantry.v1 import people_pb2 as pb
from gantry.v1 import people_pb2_grpc, registry_pb2, registry_pb2_grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kit.store import Store
from services.registry.api.people import PEOPLE_SERVICE_NAME, PeopleServicer
from services.registry.domain_people import SignUpMode, SignUpPolicy, Throttle
from services.registry.usecases.cache import EvictingCache
from services.registry.usecases.people_signup import SignUps
from tests.support.access import AccessServicer, ManualClock
from tests.support.backends import postgres_database
from tests.support.serving import serving_async

PASSWORD = "correct horse battery"
ADDRESS = "203.0.113.7"
WINDOW = timedelta(minutes=15)
OPERATOR = pb.Actor(operator=True)


@dataclass
class People:
    """A client of both services, and the clock their server reads."""

    people: people_pb2_grpc.PeopleServiceStub
    registry: registry_pb2_grpc.RegistryServiceStub
    clock: ManualClock
    store: Store
    policy: SignUpPolicy

    def pruning(self) -> SignUps:
        """The use case the registry's worker runs every hour, on this server's database and clock."""
        return SignUps(self.store.unit_of_work, self.policy, self.clock)


def policy(mode: SignUpMode = SignUpMode.OPEN, per_address: int = 100, per_domain: int = 100) -> SignUpPolicy:
    hour = timedelta(hours=1)
    return SignUpPolicy(mode, Throttle(per_address, hour), Throttle(per_domain, hour))


@contextmanager
def people_server(
    store: Store, clock: ManualClock, sign_up_policy: SignUpPolicy | None = None
) -> Iterator[People]:
    sign_up_policy = sign_up_policy or policy()
    servicers = (
        PeopleServicer(store, sign_up_policy, (Throttle(5, WINDOW), Throttle(20, WINDOW)), clock),
        AccessServicer(store, clock, EvictingCache()),
    )

    def add_both(both: tuple[Any, Any], server: Any) -> None:
        people_pb2_grpc.add_PeopleServiceServicer_to_server(both[0], server)
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(both[1], server)

    with serving_async(add_both, servicers, PEOPLE_SERVICE_NAME) as channel:
        yield People(
            people_pb2_grpc.PeopleServiceStub(channel),
            registry_pb2_grpc.RegistryServiceStub(channel),
            clock,
            store,
            sign_up_policy,
        )


def start_sign_up(world: People, email: str, **changes: Any) -> pb.SignUp:
    fields = {
        "company_name": "Acme Precision",
        "country": "CN",
        "size_class": registry_pb2.SIZE_CLASS_SMALL,
        "admin_email": email,
        "admin_name": "Ada Admin",
        "password": PASSWORD,
        "client_address": ADDRESS,
        **changes,
    }
    return world.people.StartSignUp(pb.StartSignUpRequest(**fields))


def signed_up(world: People, email: str) -> pb.ConfirmSignUpResponse:
    """A tenant and its first admin, through sign-up in open mode."""
    started = start_sign_up(world, email)
    return world.people.ConfirmSignUp(pb.ConfirmSignUpRequest(token=started.confirmation_token))


def as_user(user: pb.User) -> pb.Actor:
    return pb.Actor(tenant_id=user.tenant_id, user_id=user.id)


def invited(world: People, admin: pb.User, email: str, role: int = pb.ROLE_VIEWER) -> pb.User:
    invitation = world.people.InviteUser(
        pb.InviteUserRequest(actor=as_user(admin), email=email, name="Ed", role=role)
    )
    return world.people.AcceptInvitation(
        pb.AcceptInvitationRequest(token=invitation.token, password=PASSWORD)
    )


def sign_in(world: People, email: str, password: str = PASSWORD, address: str = ADDRESS) -> pb.SignInResponse:
    return world.people.SignIn(pb.SignInRequest(email=email, password=password, client_address=address))


def session_of(world: People, email: str) -> pb.Session:
    return sign_in(world, email).session


def resolve(world: People, token: str) -> pb.Principal:
    return world.people.ResolveSession(pb.ResolveSessionRequest(token=token))


def enrolled(world: People, user: pb.User) -> pyotp.TOTP:
    """The user enrolled in TOTP (confirmed with the code of the previous time step, so that
    the current one stays unused); the authenticator that makes their codes."""
    enrolment = world.people.StartTwoFactorEnrolment(pb.StartTwoFactorEnrolmentRequest(actor=as_user(user)))
    totp = pyotp.TOTP(enrolment.secret)
    code = totp.at(world.clock.now, counter_offset=-1)
    world.people.ConfirmTwoFactorEnrolment(
        pb.ConfirmTwoFactorEnrolmentRequest(actor=as_user(user), code=code)
    )
    return totp


def _detail(error: grpc.RpcError, kind: type[Message]) -> Message | None:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(kind.DESCRIPTOR):
            found = kind()
            detail.Unpack(found)
            return found
    return None


def retry_after(error: grpc.RpcError) -> int:
    """The seconds of the RetryInfo detail of a throttled call."""
    info = _detail(error, error_details_pb2.RetryInfo)
    assert isinstance(info, error_details_pb2.RetryInfo), "no RetryInfo detail"
    return info.retry_delay.seconds


def reason(error: grpc.RpcError) -> str:
    info = _detail(error, error_details_pb2.ErrorInfo)
    return info.reason if isinstance(info, error_details_pb2.ErrorInfo) else ""


@pytest.fixture
def database_url() -> Iterator[str]:
    """People's tests run on PostgreSQL only, the database of production."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def world(store: Store, clock: ManualClock) -> Iterator[People]:
    with people_server(store, clock) as served:
        yield served
