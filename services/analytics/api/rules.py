"""gRPC methods of alarm rules."""

from __future__ import annotations

import grpc
from gantry.v1 import analytics_pb2 as pb

from services.analytics.api.messages import definition_of, rule_message
from services.analytics.usecases.rules import Rules
from services.kit.protos import page_args, page_info, tenant_of


class RulesApi:
    rules: Rules

    def CreateAlarmRule(
        self, request: pb.CreateAlarmRuleRequest, context: grpc.ServicerContext
    ) -> pb.AlarmRule:
        rule = request.rule
        return rule_message(self.rules.create(tenant_of(request), rule.profile_id, definition_of(rule)))

    def GetAlarmRule(self, request: pb.GetAlarmRuleRequest, context: grpc.ServicerContext) -> pb.AlarmRule:
        return rule_message(self.rules.get(tenant_of(request), request.rule_id))

    def ListAlarmRules(
        self, request: pb.ListAlarmRulesRequest, context: grpc.ServicerContext
    ) -> pb.ListAlarmRulesResponse:
        found, next_cursor = self.rules.list(tenant_of(request), request.profile_id, *page_args(request.page))
        return pb.ListAlarmRulesResponse(rules=[rule_message(r) for r in found], page=page_info(next_cursor))

    def UpdateAlarmRule(
        self, request: pb.UpdateAlarmRuleRequest, context: grpc.ServicerContext
    ) -> pb.AlarmRule:
        updated = self.rules.update(
            tenant_of(request), request.rule_id, request.expected_version, definition_of(request.rule)
        )
        return rule_message(updated)

    def DeleteAlarmRule(
        self, request: pb.DeleteAlarmRuleRequest, context: grpc.ServicerContext
    ) -> pb.AlarmRule:
        return rule_message(self.rules.delete(tenant_of(request), request.rule_id, request.expected_version))
