"""Telemetry's gRPC adapter."""

from __future__ import annotations

import grpc
from gantry.v1 import telemetry_pb2 as pb
from gantry.v1 import telemetry_pb2_grpc

from services.kit import grpc_server
from services.kit.protos import timestamp
from services.kit.store import Store
from services.telemetry.domain import ChannelValue
from services.telemetry.service import Telemetry
from services.telemetry.storage import metadata

_VALUE_FIELDS = {bool: "bool_value", int: "int_value", float: "float_value", str: "string_value"}


def channel_value_message(value: ChannelValue) -> pb.ChannelValue:
    field = _VALUE_FIELDS[type(value.value)]
    return pb.ChannelValue(channel=value.channel, ts=timestamp(value.ts), **{field: value.value})


class TelemetryServicer(telemetry_pb2_grpc.TelemetryServiceServicer):
    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def GetLatest(self, request: pb.GetLatestRequest, context: grpc.ServicerContext) -> pb.LatestValues:
        latest = self.telemetry.get_latest(request.tenant_id, request.device_id)
        return pb.LatestValues(
            device_id=latest.device_id, values=[channel_value_message(v) for v in latest.values]
        )


def add_servicer(server: grpc.Server, store: Store) -> None:
    telemetry_pb2_grpc.add_TelemetryServiceServicer_to_server(
        TelemetryServicer(Telemetry(store.unit_of_work)), server
    )


if __name__ == "__main__":
    grpc_server.serve_service(
        "telemetry", metadata, add_servicer, pb.DESCRIPTOR.services_by_name["TelemetryService"].full_name
    )
