"""gRPC methods of devices."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb

from services.kit.protos import enum_name
from services.registry.api.messages import (
    device_message,
    device_spec_fields,
    mask_paths,
    page_info,
    struct_dict,
)
from services.registry.domain import Connectivity, Device, DeviceState, IssuedSecret
from services.registry.usecases.devices import Devices


def _state(number: int) -> DeviceState | None:
    name = enum_name(pb.DeviceState, number, "DEVICE_STATE_")
    return DeviceState(name) if name else None


def _message(found: tuple[Device, Connectivity]) -> pb.Device:
    device, connectivity = found
    return device_message(device, connectivity)


def _registered(
    device: Device, secret: IssuedSecret, connectivity: Connectivity
) -> pb.RegisterDeviceResponse:
    return pb.RegisterDeviceResponse(
        device=device_message(device, connectivity), access_token=secret.presented, credential_id=secret.id
    )


class DevicesApi:
    devices: Devices

    def RegisterDevice(
        self, request: pb.RegisterDeviceRequest, context: grpc.ServicerContext
    ) -> pb.RegisterDeviceResponse:
        [(device, secret)] = self.devices.register(
            request.tenant_id, [device_spec_fields(request.device)], bulk=False
        )
        return _registered(device, secret, Connectivity.NEVER_SEEN)

    def RegisterDevices(
        self, request: pb.RegisterDevicesRequest, context: grpc.ServicerContext
    ) -> pb.RegisterDevicesResponse:
        registered = self.devices.register(
            request.tenant_id, [device_spec_fields(d) for d in request.devices], bulk=True
        )
        return pb.RegisterDevicesResponse(
            devices=[_registered(device, secret, Connectivity.NEVER_SEEN) for device, secret in registered]
        )

    async def GetDevice(self, request: pb.GetDeviceRequest, context: grpc.aio.ServicerContext) -> pb.Device:
        # The hottest read: a coroutine, so that it is answered on the event loop.
        return _message(await self.devices.get(request.tenant_id, request.device_id))

    def ListDevices(
        self, request: pb.ListDevicesRequest, context: grpc.ServicerContext
    ) -> pb.ListDevicesResponse:
        options = {
            "profile_id": request.profile_id or None,
            "state": _state(request.state),
            "site": request.site,
            "labels": dict(request.labels),
            "text": request.text,
            "order_by": request.order_by or "serial_number",
        }
        found, next_cursor, previous_cursor, total = self.devices.list(
            request.tenant_id,
            options,
            request.page.page_size,
            request.page.cursor,
            request.include_total,
            max(request.total_limit, 0),
        )
        return pb.ListDevicesResponse(
            devices=[_message(f) for f in found],
            page=page_info(next_cursor, total),
            previous_cursor=previous_cursor,
        )

    def UpdateDevice(self, request: pb.UpdateDeviceRequest, context: grpc.ServicerContext) -> pb.Device:
        fields = {
            "display_name": request.display_name,
            "site": request.site,
            "production_line": request.production_line,
            "labels": dict(request.labels),
            "attributes": struct_dict(request.attributes),
            "firmware_version": request.firmware_version,
            "profile_version": request.profile_version,
        }
        return _message(
            self.devices.update(
                request.tenant_id, request.device_id, request.expected_version, mask_paths(request), fields
            )
        )

    def ChangeDeviceState(
        self, request: pb.ChangeDeviceStateRequest, context: grpc.ServicerContext
    ) -> pb.Device:
        return _message(
            self.devices.change_state(
                request.tenant_id, request.device_id, request.expected_version, _state(request.state)
            )
        )
