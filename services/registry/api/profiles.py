"""gRPC methods of device profiles."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb

from services.registry.api.messages import channel_fields, mask_paths, page_info, profile_message
from services.registry.usecases.profiles import Profiles


class ProfilesApi:
    profiles: Profiles

    def CreateProfile(
        self, request: pb.CreateProfileRequest, context: grpc.ServicerContext
    ) -> pb.DeviceProfile:
        profile = self.profiles.create(request.tenant_id, _profile_fields(request))
        return profile_message(profile)

    def GetProfile(self, request: pb.GetProfileRequest, context: grpc.ServicerContext) -> pb.DeviceProfile:
        return profile_message(self.profiles.get(request.tenant_id, request.profile_id, request.version))

    def ListProfiles(
        self, request: pb.ListProfilesRequest, context: grpc.ServicerContext
    ) -> pb.ListProfilesResponse:
        found, next_cursor = self.profiles.list(
            request.tenant_id, request.page.page_size, request.page.cursor
        )
        return pb.ListProfilesResponse(
            profiles=[profile_message(p) for p in found], page=page_info(next_cursor)
        )

    def UpdateProfile(
        self, request: pb.UpdateProfileRequest, context: grpc.ServicerContext
    ) -> pb.DeviceProfile:
        profile = self.profiles.update(
            request.tenant_id,
            request.profile_id,
            request.expected_version,
            mask_paths(request),
            _profile_fields(request),
        )
        return profile_message(profile)


def _profile_fields(request: pb.CreateProfileRequest | pb.UpdateProfileRequest) -> dict:
    return {
        "name": request.name,
        "manufacturer": request.manufacturer,
        "model": request.model,
        "channels": [channel_fields(c) for c in request.channels],
    }
