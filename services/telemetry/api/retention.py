"""Telemetry's retention calls."""

from __future__ import annotations

import grpc
from gantry.v1 import telemetry_pb2 as pb

from services.telemetry.usecases.retention import Retention


class RetentionApi:
    retention: Retention

    def GetRetention(self, request: pb.GetRetentionRequest, context: grpc.ServicerContext) -> pb.Retention:
        return pb.Retention(tenant_id=request.tenant_id, days=self.retention.get(request.tenant_id))

    def SetRetention(self, request: pb.Retention, context: grpc.ServicerContext) -> pb.Retention:
        return pb.Retention(
            tenant_id=request.tenant_id, days=self.retention.set(request.tenant_id, request.days)
        )
