"""gRPC methods of device attributes."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb

from services.registry.api.messages import struct, struct_dict
from services.registry.usecases.attributes import Attributes, DeviceAttributes


def _attributes_message(found: DeviceAttributes) -> pb.DeviceAttributes:
    return pb.DeviceAttributes(
        device_id=found.device_id, client=struct(found.client), shared=struct(found.shared)
    )


class AttributesApi:
    attributes: Attributes

    def ReportClientAttributes(
        self, request: pb.ReportClientAttributesRequest, context: grpc.ServicerContext
    ) -> pb.DeviceAttributes:
        reported = self.attributes.report(
            request.tenant_id, request.device_id, struct_dict(request.attributes)
        )
        return _attributes_message(reported)

    def GetDeviceAttributes(
        self, request: pb.GetDeviceAttributesRequest, context: grpc.ServicerContext
    ) -> pb.DeviceAttributes:
        found = self.attributes.get(
            request.tenant_id, request.device_id, list(request.client_keys), list(request.shared_keys)
        )
        return _attributes_message(found)
