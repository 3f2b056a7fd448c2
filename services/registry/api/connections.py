"""gRPC methods of devices' connections to protocol adapters."""

from __future__ import annotations

import grpc
from gantry.v1 import registry_pb2 as pb

from services.registry.usecases.connections import Connections


class ConnectionsApi:
    connections: Connections

    def ReportConnections(
        self, request: pb.ReportConnectionsRequest, context: grpc.ServicerContext
    ) -> pb.ReportConnectionsResponse:
        recorded = self.connections.report(
            [(d.tenant_id, d.device_id) for d in request.connected],
            [(d.tenant_id, d.device_id) for d in request.disconnected],
            request.lease_seconds,
        )
        return pb.ReportConnectionsResponse(recorded=recorded)
