"""Analytics: alarm rules, the alarms they raise and how people act on them, and the
tenant's overview."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gantry.v1 import analytics_pb2 as pb
from google.protobuf.message import Message
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, etag, json_response
from services.gateway.protojson import page_json, to_json, to_message
from services.gateway.schemas import alarm_rules as rule_schemas
from services.gateway.schemas import analytics as schemas

READ = "analytics:read"
WRITE = "analytics:write"
# Analytics names a rule's fields under `rule.`; the body holds them at its top.
RULE_FIELDS = "rule."

READ_ERRORS = (401, 403, 404, 422)
LIST_ERRORS = (401, 403, 422)
WRITE_ERRORS = (401, 403, 404, 413, 415, 422)
CHANGE_ERRORS = (*WRITE_ERRORS, 412, 428)
ACT_ERRORS = (401, 403, 404, 409, 422)


def _rule_response(rule: pb.AlarmRule, status: int = 200) -> Response:
    headers = etag(rule.version)
    if status == 201:
        headers["Location"] = f"/v1/alarm-rules/{rule.id}"
    return json_response(to_json(rule), status, headers)


async def create_alarm_rule(c: Call) -> Response:
    request = pb.CreateAlarmRuleRequest(tenant_id=c.tenant_id, rule=to_message(pb.AlarmRule, c.body))
    return _rule_response(
        await call(c.backends.analytics.CreateAlarmRule, request, field_prefix=RULE_FIELDS), 201
    )


async def list_alarm_rules(c: Call) -> Response:
    request = to_message(pb.ListAlarmRulesRequest, c.query, tenant_id=c.tenant_id)
    found = await call(c.backends.analytics.ListAlarmRules, request, field_prefix="page.")
    return json_response(page_json(found.rules, found.page))


async def _rule(c: Call) -> pb.AlarmRule:
    request = pb.GetAlarmRuleRequest(tenant_id=c.tenant_id, rule_id=c.path("rule_id"))
    return await call(c.backends.analytics.GetAlarmRule, request)


async def _rule_version(c: Call) -> int:
    return (await _rule(c)).version


async def get_alarm_rule(c: Call) -> Response:
    return _rule_response(await _rule(c))


async def replace_alarm_rule(c: Call) -> Response:
    request = pb.UpdateAlarmRuleRequest(
        tenant_id=c.tenant_id,
        rule_id=c.path("rule_id"),
        expected_version=await c.expected_version(_rule_version),
        rule=to_message(pb.AlarmRule, c.body),
    )
    return _rule_response(await call(c.backends.analytics.UpdateAlarmRule, request, field_prefix=RULE_FIELDS))


async def delete_alarm_rule(c: Call) -> Response:
    request = pb.DeleteAlarmRuleRequest(
        tenant_id=c.tenant_id,
        rule_id=c.path("rule_id"),
        expected_version=await c.expected_version(_rule_version),
    )
    # The answer is the rule as deleted, its version one past the one If-Match named.
    return json_response(to_json(await call(c.backends.analytics.DeleteAlarmRule, request)))


async def list_alarms(c: Call) -> Response:
    request = to_message(pb.ListAlarmsRequest, c.query, tenant_id=c.tenant_id)
    found = await call(c.backends.analytics.ListAlarms, request, field_prefix="page.")
    return json_response(page_json(found.alarms, found.page))


async def get_alarm(c: Call) -> Response:
    request = pb.GetAlarmRequest(tenant_id=c.tenant_id, alarm_id=c.path("alarm_id"))
    return json_response(to_json(await call(c.backends.analytics.GetAlarm, request)))


async def _act(
    c: Call, method: Callable[..., Awaitable[pb.Alarm]], kind: type[Message], status: int = 200
) -> Response:
    """A move on an alarm, made as the caller's API key, with the body's fields (a comment's text)."""
    request = to_message(kind, c.body, tenant_id=c.tenant_id, alarm_id=c.path("alarm_id"), actor=c.actor)
    return json_response(to_json(await call(method, request)), status)


async def acknowledge_alarm(c: Call) -> Response:
    return await _act(c, c.backends.analytics.AcknowledgeAlarm, pb.AlarmActionRequest)


async def clear_alarm(c: Call) -> Response:
    return await _act(c, c.backends.analytics.ClearAlarm, pb.AlarmActionRequest)


async def comment_alarm(c: Call) -> Response:
    return await _act(c, c.backends.analytics.CommentAlarm, pb.CommentAlarmRequest, 201)


async def get_overview(c: Call) -> Response:
    overview = await call(c.backends.analytics.GetOverview, pb.GetOverviewRequest(tenant_id=c.tenant_id))
    return json_response(to_json(overview))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/alarm-rules",
        create_alarm_rule,
        "Create an alarm rule on a device profile; its channels are checked against the profile's",
        "alarm rules",
        scope=WRITE,
        body=rule_schemas.AlarmRuleCreate,
        response=rule_schemas.AlarmRule,
        status=201,
        errors=WRITE_ERRORS,
    ),
    Endpoint(
        "GET",
        "/v1/alarm-rules",
        list_alarm_rules,
        "List the caller's alarm rules, of one profile or all, a page at a time",
        "alarm rules",
        scope=READ,
        query=rule_schemas.AlarmRuleListQuery,
        response=rule_schemas.AlarmRuleList,
        errors=LIST_ERRORS,
    ),
    Endpoint(
        "GET",
        "/v1/alarm-rules/{rule_id}",
        get_alarm_rule,
        "Get an alarm rule; its ETag is its version",
        "alarm rules",
        scope=READ,
        response=rule_schemas.AlarmRule,
        errors=READ_ERRORS,
    ),
    Endpoint(
        "PUT",
        "/v1/alarm-rules/{rule_id}",
        replace_alarm_rule,
        "Replace an alarm rule's definition (its profile stays); devices' progress towards "
        "duration and repeating triggers restarts",
        "alarm rules",
        scope=WRITE,
        body=rule_schemas.AlarmRuleDefinition,
        response=rule_schemas.AlarmRule,
        precondition=True,
        errors=CHANGE_ERRORS,
    ),
    Endpoint(
        "DELETE",
        "/v1/alarm-rules/{rule_id}",
        delete_alarm_rule,
        "Delete an alarm rule; its active alarms are cleared",
        "alarm rules",
        scope=WRITE,
        response=rule_schemas.AlarmRule,
        precondition=True,
        errors=(401, 403, 404, 412, 422, 428),
    ),
    Endpoint(
        "GET",
        "/v1/alarms",
        list_alarms,
        "List the caller's alarms, newest first, filtered, a page at a time",
        "alarms",
        scope=READ,
        query=schemas.AlarmListQuery,
        response=schemas.AlarmList,
        errors=LIST_ERRORS,
    ),
    Endpoint(
        "GET",
        "/v1/alarms/{alarm_id}",
        get_alarm,
        "Get an alarm with its severity history and comments",
        "alarms",
        scope=READ,
        response=schemas.Alarm,
        errors=READ_ERRORS,
    ),
    Endpoint(
        "POST",
        "/v1/alarms/{alarm_id}/acknowledge",
        acknowledge_alarm,
        "Acknowledge an alarm, as the caller's API key; 409 when acknowledged already",
        "alarms",
        scope=WRITE,
        response=schemas.Alarm,
        errors=ACT_ERRORS,
    ),
    Endpoint(
        "POST",
        "/v1/alarms/{alarm_id}/clear",
        clear_alarm,
        "Clear an active alarm, as the caller's API key; it is raised again only once its "
        "condition has been unmet and is met anew",
        "alarms",
        scope=WRITE,
        response=schemas.Alarm,
        errors=ACT_ERRORS,
    ),
    Endpoint(
        "POST",
        "/v1/alarms/{alarm_id}/comments",
        comment_alarm,
        "Comment on an alarm, as the caller's API key; the answer is the alarm",
        "alarms",
        scope=WRITE,
        body=schemas.CommentCreate,
        response=schemas.Alarm,
        status=201,
        errors=(*ACT_ERRORS, 413, 415),
    ),
    Endpoint(
        "GET",
        "/v1/overview",
        get_overview,
        "The tenant at a glance: devices by state and connectivity, active alarms, readings",
        "overview",
        scope=READ,
        response=schemas.Overview,
        errors=(401, 403),
    ),
]
