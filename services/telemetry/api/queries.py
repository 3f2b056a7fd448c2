"""Telemetry's query calls."""

from __future__ import annotations

import grpc
from gantry.v1 import telemetry_pb2 as pb

from services.kit.protos import timestamp
from services.telemetry.domain import ChannelValue
from services.telemetry.queries import Queries

_VALUE_FIELDS = {bool: "bool_value", int: "int_value", float: "float_value", str: "string_value"}


def value_message(value: float | int | bool | str) -> pb.Value:
    return pb.Value(**{_VALUE_FIELDS[type(value)]: value})


def reading_message(value: ChannelValue) -> pb.Reading:
    return pb.Reading(channel=value.channel, ts=timestamp(value.ts), value=value_message(value.value))


class QueriesApi:
    queries: Queries

    def GetLatest(self, request: pb.GetLatestRequest, context: grpc.ServicerContext) -> pb.LatestValues:
        latest = self.queries.get_latest(request.tenant_id, request.device_id)
        return pb.LatestValues(device_id=latest.device_id, values=[reading_message(v) for v in latest.values])
