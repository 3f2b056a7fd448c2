"""A device profile's alarm rules: read in words of the reader's language (`analytics:read`),
created, changed and deleted by forms (`analytics:write`). A change names the version it
was read at, as the API's If-Match does, so that a rule changed meanwhile is refused (409)
and shown again as it is now; a refused form comes back as it was sent, each wrong field
marked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from gantry.v1 import analytics_pb2, common_pb2, registry_pb2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.admin.calls import call
from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.pages import Pages
from services.console.people.context import PeopleContext
from services.console.people.refusals import Refusal
from services.console.people.settings_people import version_of
from services.console.plant_values import SEVERITIES
from services.console.rule_form import (
    FORM_FIELDS,
    KINDS,
    OPERATORS,
    RuleForm,
    entered,
    form_of,
    on_the_form,
    rule_of,
)
from services.console.rule_text import rule_view
from services.console.sessions import Principal
from services.kit.grpc_clients import Backends

PAGE_SIZE = 100
NOTICES = frozenset({"created", "updated", "deleted"})
NEW = "new"


def routes(backends: Backends, pages: Pages) -> list[Route]:
    async def show(
        request: Request,
        principal: Principal,
        profile_id: str,
        status: int = 200,
        failed: tuple[str, RuleForm, Refusal] | None = None,
    ) -> Response:
        """The rules as they are now; `failed` the form (a rule's id, or "new") refused."""
        profile, rules = await asyncio.gather(
            ask(
                backends.registry.GetProfile,
                registry_pb2.GetProfileRequest(tenant_id=principal.tenant_id, profile_id=profile_id),
            ),
            ask(
                backends.analytics.ListAlarmRules,
                analytics_pb2.ListAlarmRulesRequest(
                    tenant_id=principal.tenant_id,
                    profile_id=profile_id,
                    page=common_pb2.PageRequest(page_size=PAGE_SIZE),
                ),
            ),
        )
        forms: dict[str, RuleForm | None] = {rule.id: form_of(rule) for rule in rules.rules}
        forms[NEW] = RuleForm()
        refusal = None
        if failed is not None:
            key, values, refusal = failed
            # A stale rule is shown as it is now; any other refusal, as it was sent.
            if refusal.problem != "stale":
                forms[key] = values
        return pages.render(
            request,
            "plant/alarm_rules.html",
            status,
            principal=principal,
            profile=profile,
            rules=[rule_view(rule) for rule in rules.rules],
            forms=forms,
            refused=failed[0] if failed else "",
            refusal=refusal,
            channels=[channel.key for channel in profile.channels],
            severities=SEVERITIES,
            operators=OPERATORS,
            kinds=KINDS,
            notice=PeopleContext.notice(request, NOTICES),
        )

    @for_tenant(backends, "analytics:read")
    async def alarm_rules(request: Request, principal: Principal) -> Response:
        return await show(request, principal, object_id(request, "profile_id"))

    def change(kind: str) -> Callable[[Request], Awaitable[Response]]:
        @for_tenant(backends, "analytics:write")
        async def changed(request: Request, principal: Principal) -> Response:
            # The token first: a forged form learns nothing, not even whether the rule exists.
            form = await checked_form(request, principal, max_fields=FORM_FIELDS)
            profile_id = object_id(request, "profile_id")
            key = NEW if kind == "created" else object_id(request, "rule_id")
            values = entered(form)
            answer = await _send(kind, principal, profile_id, key, version_of(form), values)
            if isinstance(answer, Refusal):
                if answer.problem == "not_found" and kind != "created":
                    raise HTTPException(404, "no such rule")
                return await show(request, principal, profile_id, answer.status, (key, values, answer))
            return RedirectResponse(f"{_page(profile_id)}?notice={kind}", status_code=303)

        return changed

    async def _send(
        kind: str, principal: Principal, profile_id: str, rule_id: str, version: int, values: RuleForm
    ) -> Any:
        tenant_id = principal.tenant_id
        if kind == "deleted":
            asked = analytics_pb2.DeleteAlarmRuleRequest(
                tenant_id=tenant_id, rule_id=rule_id, expected_version=version
            )
            return await call(backends.analytics.DeleteAlarmRule, asked)
        profile = await ask(
            backends.registry.GetProfile,
            registry_pb2.GetProfileRequest(tenant_id=tenant_id, profile_id=profile_id),
        )
        channels = {channel.key: channel.value_type for channel in profile.channels}
        rule, used, wrong = rule_of(values, channels)
        if wrong is not None:
            return on_the_form(wrong, used)
        if kind == "created":
            rule.profile_id = profile_id
            answer = await call(
                backends.analytics.CreateAlarmRule,
                analytics_pb2.CreateAlarmRuleRequest(tenant_id=tenant_id, rule=rule),
            )
        else:
            answer = await call(
                backends.analytics.UpdateAlarmRule,
                analytics_pb2.UpdateAlarmRuleRequest(
                    tenant_id=tenant_id, rule_id=rule_id, expected_version=version, rule=rule
                ),
            )
        return on_the_form(answer, used) if isinstance(answer, Refusal) else answer

    page = "/device-profiles/{profile_id}/alarm-rules"
    return [
        Route(page, alarm_rules, methods=["GET"], name="alarm_rules"),
        Route(page, change("created"), methods=["POST"], name="alarm_rule_create"),
        Route(f"{page}/{{rule_id}}", change("updated"), methods=["POST"], name="alarm_rule_update"),
        Route(f"{page}/{{rule_id}}/delete", change("deleted"), methods=["POST"], name="alarm_rule_delete"),
    ]


def _page(profile_id: str) -> str:
    return f"/device-profiles/{profile_id}/alarm-rules"
