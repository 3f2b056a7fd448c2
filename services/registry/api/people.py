"""PeopleService: users, sessions, invitations, second factors and sign-ups over gRPC,
served by registry-api beside RegistryService."""

from __future__ import annotations

import grpc
from gantry.v1 import people_pb2 as pb
from gantry.v1 import people_pb2_grpc, registry_pb2

from services.kit.protos import enum_name
from services.kit.store import Store
from services.registry.api import people_messages as messages
from services.registry.api.messages import page_info, timestamp_fields
from services.registry.domain_people import SignUpPolicy, Throttle
from services.registry.usecases import Clock, utc_now
from services.registry.usecases.people import People
from services.registry.usecases.people_sessions import Challenge, Sessions
from services.registry.usecases.people_signup import SignUps
from services.registry.usecases.people_two_factor import TwoFactor

PEOPLE_SERVICE_NAME = "gantry.v1.PeopleService"

Context = grpc.ServicerContext


class PeopleServicer(people_pb2_grpc.PeopleServiceServicer):
    def __init__(
        self,
        store: Store,
        sign_up_policy: SignUpPolicy,
        sign_in_throttles: tuple[Throttle, Throttle],
        clock: Clock = utc_now,
    ) -> None:
        self.people = People(store.unit_of_work, clock)
        self.sessions = Sessions(store.unit_of_work, clock, sign_in_throttles)
        self.two_factor = TwoFactor(store.unit_of_work, clock)
        self.sign_ups = SignUps(store.unit_of_work, sign_up_policy, clock)

    def CreateOperator(self, request: pb.CreateOperatorRequest, context: Context) -> pb.User:
        actor = messages.actor(request.actor)
        return messages.user_message(
            self.people.create_operator(actor, request.email, request.name, request.password)
        )

    def SignIn(self, request: pb.SignInRequest, context: Context) -> pb.SignInResponse:
        outcome = self.sessions.sign_in(request.email, request.password, request.client_address)
        if isinstance(outcome, Challenge):
            challenge = pb.SecondFactorChallenge(
                challenge_token=outcome.token, **timestamp_fields(expires_at=outcome.expires_at)
            )
            return pb.SignInResponse(second_factor_needed=challenge)
        return pb.SignInResponse(session=messages.session_message(outcome))

    def CompleteSignIn(self, request: pb.CompleteSignInRequest, context: Context) -> pb.Session:
        session = self.sessions.complete_sign_in(
            request.challenge_token, request.code, request.client_address
        )
        return messages.session_message(session)

    def ResolveSession(self, request: pb.ResolveSessionRequest, context: Context) -> pb.Principal:
        return messages.principal_message(self.sessions.resolve(request.token))

    def RotateSession(self, request: pb.RotateSessionRequest, context: Context) -> pb.Session:
        return messages.session_message(self.sessions.rotate(request.token, request.client_address))

    def SignOut(self, request: pb.SignOutRequest, context: Context) -> pb.SignOutResponse:
        return pb.SignOutResponse(ended=self.sessions.sign_out(request.token))

    def SignOutEverywhere(self, request: pb.SignOutEverywhereRequest, context: Context) -> pb.SignOutResponse:
        ended = self.sessions.sign_out_everywhere(messages.actor(request.actor), request.user_id)
        return pb.SignOutResponse(ended=ended)

    def InviteUser(self, request: pb.InviteUserRequest, context: Context) -> pb.Invitation:
        issued = self.people.invite(
            messages.actor(request.actor),
            request.email,
            request.name,
            messages.role(request.role),
            request.tenant_id,
        )
        return messages.invitation_message(issued)

    def AcceptInvitation(self, request: pb.AcceptInvitationRequest, context: Context) -> pb.User:
        user = self.people.accept_invitation(request.token, request.name, request.password)
        return messages.user_message(user)

    def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.User:
        return messages.user_message(self.people.get(messages.actor(request.actor), request.user_id))

    def ListUsers(self, request: pb.ListUsersRequest, context: Context) -> pb.ListUsersResponse:
        found, next_cursor, total = self.people.list(
            messages.actor(request.actor), request.tenant_id, request.page.page_size, request.page.cursor
        )
        return pb.ListUsersResponse(
            users=[messages.user_message(u) for u in found], page=page_info(next_cursor, total)
        )

    def SetUserStatus(self, request: pb.SetUserStatusRequest, context: Context) -> pb.User:
        user = self.people.set_status(
            messages.actor(request.actor),
            request.user_id,
            messages.user_status(request.status),
            request.expected_version,
        )
        return messages.user_message(user)

    def ChangeRole(self, request: pb.ChangeRoleRequest, context: Context) -> pb.User:
        user = self.people.change_role(
            messages.actor(request.actor),
            request.user_id,
            messages.role(request.role),
            request.expected_version,
        )
        return messages.user_message(user)

    def StartPasswordReset(self, request: pb.StartPasswordResetRequest, context: Context) -> pb.PasswordReset:
        issued = self.people.start_password_reset(messages.actor(request.actor), request.user_id)
        return messages.password_reset_message(issued)

    def ResetPassword(self, request: pb.ResetPasswordRequest, context: Context) -> pb.User:
        return messages.user_message(self.people.reset_password(request.token, request.password))

    def StartTwoFactorEnrolment(
        self, request: pb.StartTwoFactorEnrolmentRequest, context: Context
    ) -> pb.TwoFactorEnrolment:
        enrolment = self.two_factor.start_enrolment(messages.actor(request.actor))
        return pb.TwoFactorEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)

    def ConfirmTwoFactorEnrolment(
        self, request: pb.ConfirmTwoFactorEnrolmentRequest, context: Context
    ) -> pb.User:
        user = self.two_factor.confirm_enrolment(messages.actor(request.actor), request.code)
        return messages.user_message(user)

    def ResetTwoFactor(self, request: pb.ResetTwoFactorRequest, context: Context) -> pb.User:
        return messages.user_message(self.two_factor.reset(messages.actor(request.actor), request.user_id))

    def SetTwoFactorRequired(
        self, request: pb.SetTwoFactorRequiredRequest, context: Context
    ) -> pb.TenantSecurity:
        tenant_id, required = self.two_factor.set_required(messages.actor(request.actor), request.required)
        return pb.TenantSecurity(tenant_id=tenant_id, two_factor_required=required)

    def StartSignUp(self, request: pb.StartSignUpRequest, context: Context) -> pb.SignUp:
        sign_up = self.sign_ups.start(
            {
                "company_name": request.company_name,
                "country": request.country,
                "size_class": enum_name(registry_pb2.SizeClass, request.size_class, "SIZE_CLASS_"),
                "admin_email": request.admin_email,
                "admin_name": request.admin_name,
                "password": request.password,
                "client_address": request.client_address,
            }
        )
        return messages.sign_up_message(sign_up)

    def ConfirmSignUp(self, request: pb.ConfirmSignUpRequest, context: Context) -> pb.ConfirmSignUpResponse:
        return messages.completed_message(self.sign_ups.confirm(request.token))

    def ApproveSignUp(self, request: pb.DecideSignUpRequest, context: Context) -> pb.ConfirmSignUpResponse:
        completed = self.sign_ups.approve(messages.actor(request.actor), request.sign_up_id)
        return messages.completed_message(completed)

    def RejectSignUp(self, request: pb.DecideSignUpRequest, context: Context) -> pb.SignUp:
        rejected = self.sign_ups.reject(messages.actor(request.actor), request.sign_up_id)
        return messages.sign_up_message(rejected)

    def ListSignUps(self, request: pb.ListSignUpsRequest, context: Context) -> pb.ListSignUpsResponse:
        found, next_cursor, total = self.sign_ups.list(
            messages.actor(request.actor),
            messages.sign_up_status(request.status),
            request.page.page_size,
            request.page.cursor,
        )
        return pb.ListSignUpsResponse(
            sign_ups=[messages.sign_up_message(s) for s in found], page=page_info(next_cursor, total)
        )
