"""gRPC methods of device credentials."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb

from services.kit.protos import enum_number
from services.registry.api.messages import credential_message
from services.registry.api.tenants import request_time
from services.registry.usecases.credentials import Credentials, DeviceIdentity


def _identity_message(identity: DeviceIdentity) -> pb.DeviceIdentity:
    return pb.DeviceIdentity(
        device_id=identity.device_id,
        tenant_id=identity.tenant_id,
        credential_id=identity.credential_id,
        profile_id=identity.profile_id,
        profile_version=identity.profile_version,
        state=enum_number(pb.DeviceState, identity.state, "DEVICE_STATE_"),
    )


class CredentialsApi:
    credentials: Credentials

    def IssueDeviceCredential(
        self, request: pb.IssueDeviceCredentialRequest, context: grpc.ServicerContext
    ) -> pb.IssueDeviceCredentialResponse:
        credential, secret = self.credentials.issue(
            request.tenant_id,
            request.device_id,
            request_time(request, "valid_from"),
            request_time(request, "valid_until"),
        )
        return pb.IssueDeviceCredentialResponse(
            credential=credential_message(credential), access_token=secret.presented
        )

    def ListDeviceCredentials(
        self, request: pb.ListDeviceCredentialsRequest, context: grpc.ServicerContext
    ) -> pb.ListDeviceCredentialsResponse:
        found = self.credentials.list(request.tenant_id, request.device_id)
        return pb.ListDeviceCredentialsResponse(credentials=[credential_message(c) for c in found])

    def RevokeDeviceCredential(
        self, request: pb.RevokeDeviceCredentialRequest, context: grpc.ServicerContext
    ) -> pb.DeviceCredential:
        credential = self.credentials.revoke(request.tenant_id, request.device_id, request.credential_id)
        return credential_message(credential)

    def AuthenticateDevice(
        self, request: pb.AuthenticateDeviceRequest, context: grpc.ServicerContext
    ) -> pb.DeviceIdentity:
        return _identity_message(self.credentials.authenticate(request.access_token))
