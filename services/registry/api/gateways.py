"""gRPC methods of edge gateways."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb

from services.kit.protos import enum_number
from services.registry.usecases.gateways import Gateways


class GatewaysApi:
    gateways: Gateways

    def ResolveGatewayDevices(
        self, request: pb.ResolveGatewayDevicesRequest, context: grpc.ServicerContext
    ) -> pb.ResolveGatewayDevicesResponse:
        found = self.gateways.resolve(request.tenant_id, request.gateway_device_id, list(request.names))
        return pb.ResolveGatewayDevicesResponse(
            devices=[
                pb.GatewayDevice(
                    name=d.serial_number,
                    device_id=d.id,
                    state=enum_number(pb.DeviceState, d.state, "DEVICE_STATE_"),
                )
                for d in found
            ]
        )
