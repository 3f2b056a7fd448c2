"""gRPC methods of alarms."""

from __future__ import annotations

from typing import Any

import grpc
from gantry.v1 import analytics_pb2 as pb

from services.analytics.api.messages import ALARM_STATUSES, alarm_message
from services.analytics.domain.rules import Severity
from services.analytics.usecases.alarms import Alarms
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.protos import page_args, page_info, tenant_of, valid_time


def _wanted(request: pb.ListAlarmsRequest) -> dict[str, Any]:
    statuses = [ALARM_STATUSES.to_domain(s, f"statuses[{i}]") for i, s in enumerate(request.statuses)]
    wanted: dict[str, Any] = {
        "statuses": [s for s in statuses if s is not None],
        "severities": [_severity(s, f"severities[{i}]") for i, s in enumerate(request.severities)],
        "device_id": request.device_id,
        "rule_id": request.rule_id,
    }
    for field in ("started_after", "started_before"):
        if request.HasField(field):
            wanted[field] = valid_time(getattr(request, field), field)
    return {name: value for name, value in wanted.items() if value}


def _severity(number: int, field: str) -> Severity:
    if number not in Severity._value2member_map_:
        raise InvalidArgument([FieldViolation(field, "one of SEVERITY_WARNING, MINOR, MAJOR, CRITICAL")])
    return Severity(number)


class AlarmsApi:
    alarms: Alarms

    def ListAlarms(
        self, request: pb.ListAlarmsRequest, context: grpc.ServicerContext
    ) -> pb.ListAlarmsResponse:
        found, next_cursor = self.alarms.list(tenant_of(request), _wanted(request), *page_args(request.page))
        return pb.ListAlarmsResponse(alarms=[alarm_message(a) for a in found], page=page_info(next_cursor))

    def GetAlarm(self, request: pb.GetAlarmRequest, context: grpc.ServicerContext) -> pb.Alarm:
        return alarm_message(self.alarms.get(tenant_of(request), request.alarm_id))

    def AcknowledgeAlarm(self, request: pb.AlarmActionRequest, context: grpc.ServicerContext) -> pb.Alarm:
        return alarm_message(self.alarms.acknowledge(tenant_of(request), request.alarm_id, request.actor))

    def ClearAlarm(self, request: pb.AlarmActionRequest, context: grpc.ServicerContext) -> pb.Alarm:
        return alarm_message(self.alarms.clear(tenant_of(request), request.alarm_id, request.actor))

    def CommentAlarm(self, request: pb.CommentAlarmRequest, context: grpc.ServicerContext) -> pb.Alarm:
        return alarm_message(
            self.alarms.comment(tenant_of(request), request.alarm_id, request.actor, request.text)
        )
