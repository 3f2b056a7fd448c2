"""gRPC method of a tenant's overview."""

from __future__ import annotations

import grpc
from gantry.v1 import analytics_pb2 as pb

from services.analytics.usecases.overview import Overviews
from services.kit.protos import tenant_of


class OverviewApi:
    overviews: Overviews

    def GetOverview(self, request: pb.GetOverviewRequest, context: grpc.ServicerContext) -> pb.Overview:
        overview = self.overviews.get(tenant_of(request))
        (accepted_hour, rejected_hour), (accepted_day, rejected_day) = (
            overview.readings_last_hour,
            overview.readings_last_day,
        )
        return pb.Overview(
            devices_by_state=overview.devices_by_state,
            devices_by_connectivity=overview.devices_by_connectivity,
            active_alarms_by_severity=overview.active_alarms_by_severity,
            readings_accepted_last_hour=accepted_hour,
            readings_rejected_last_hour=rejected_hour,
            readings_accepted_last_day=accepted_day,
            readings_rejected_last_day=rejected_day,
        )
