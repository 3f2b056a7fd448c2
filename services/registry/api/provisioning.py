"""gRPC methods of device provisioning."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.protos import EnumMap, timestamp
from services.registry.domain_provisioning import ProfileProvisioning, ProvisionRefused, ProvisionStrategy
from services.registry.usecases.provisioning import Provisioning

STRATEGIES = EnumMap(pb.ProvisionStrategy, "PROVISION_STRATEGY_", ProvisionStrategy)


class ProvisioningApi:
    provisioning: Provisioning

    def SetProfileProvisioning(
        self, request: pb.SetProfileProvisioningRequest, context: grpc.ServicerContext
    ) -> pb.SetProfileProvisioningResponse:
        strategy = STRATEGIES.to_domain(request.strategy, "strategy")
        if strategy is None:
            raise InvalidArgument([FieldViolation("strategy", "required")])
        settings, secret = self.provisioning.configure(
            request.tenant_id, request.profile_id, strategy, request.provision_key, request.provision_secret
        )
        return pb.SetProfileProvisioningResponse(provisioning=_message(settings), provision_secret=secret)

    def GetProfileProvisioning(
        self, request: pb.GetProfileProvisioningRequest, context: grpc.ServicerContext
    ) -> pb.ProfileProvisioning:
        return _message(self.provisioning.get(request.tenant_id, request.profile_id))

    def ProvisionDevice(
        self, request: pb.ProvisionDeviceRequest, context: grpc.ServicerContext
    ) -> pb.ProvisionDeviceResponse:
        try:
            done = self.provisioning.provision(
                request.device_name, request.provision_key, request.provision_secret, request.access_token
            )
        except ProvisionRefused as refused:
            status = pb.ProvisionStatus.Value(f"PROVISION_STATUS_{refused.status.name}")
            return pb.ProvisionDeviceResponse(status=status, detail=str(refused))
        return pb.ProvisionDeviceResponse(
            status=pb.PROVISION_STATUS_SUCCESS,
            tenant_id=done.tenant_id,
            device_id=done.device_id,
            access_token=done.access_token,
        )


def _message(settings: ProfileProvisioning) -> pb.ProfileProvisioning:
    return pb.ProfileProvisioning(
        profile_id=settings.profile_id,
        strategy=STRATEGIES.to_proto(settings.strategy),
        provision_key=settings.provision_key,
        updated_at=timestamp(settings.updated_at),
    )
