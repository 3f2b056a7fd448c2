"""The alarms: the live list (active first, the most severe first), acknowledged, cleared
and commented on by htmx forms that carry the CSRF header."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gantry.v1 import analytics_pb2, common_pb2, registry_pb2
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.pages import Pages
from services.console.plant_values import (
    ACTIVE_STATUSES,
    CLEARED_STATUSES,
    SEVERITIES,
    alarm_view,
    severity_of,
)
from services.console.sessions import CSRF_FIELD, Principal
from services.kit.grpc_clients import Backends

PAGE_SIZE = 100
STATUSES = {"active": ACTIVE_STATUSES, "cleared": CLEARED_STATUSES, "all": ()}
ACTOR_LENGTH = 200
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def routes(backends: Backends, pages: Pages) -> list[Route]:
    async def alarm_rows(principal: Principal, query: QueryParams) -> list[dict[str, Any]]:
        found = await ask(backends.analytics.ListAlarms, _listing(principal.tenant_id, query))
        rows = [alarm_view(alarm) for alarm in found.alarms]
        names = await _device_names(backends, principal.tenant_id, {row["device_id"] for row in rows})
        for row in rows:
            row["device_name"] = names.get(row["device_id"], row["device_id"])
        # Newest first from analytics; the page puts the active and the most severe first.
        return sorted(rows, key=lambda row: (not row["active"], SEVERITY_RANK[row["severity"]]))

    def render_rows(
        request: Request, principal: Principal, rows: list[dict[str, Any]], template: str
    ) -> Response:
        return pages.render(
            request,
            template,
            principal=principal,
            alarms=rows,
            severities=SEVERITIES,
            statuses=tuple(STATUSES),
            chosen={name: request.query_params.get(name, "") for name in ("status", "severity", "device")},
            csrf_field=CSRF_FIELD,
        )

    @for_tenant(backends, "analytics:read")
    async def alarm_list(request: Request, principal: Principal) -> Response:
        return render_rows(
            request, principal, await alarm_rows(principal, request.query_params), "plant/alarms.html"
        )

    @for_tenant(backends, "analytics:read")
    async def alarm_list_rows(request: Request, principal: Principal) -> Response:
        """The list's rows alone, which the page asks for again every few seconds."""
        rows = await alarm_rows(principal, request.query_params)
        return render_rows(request, principal, rows, "plant/alarm_rows.html")

    def action(method_name: str) -> Callable[[Request], Awaitable[Response]]:
        """Acknowledge, clear or comment: the changed row for htmx, else back to the list."""

        @for_tenant(backends, "analytics:write")
        async def act(request: Request, principal: Principal) -> Response:
            # The token first: a forged form learns nothing, not even whether the alarm exists.
            form = await checked_form(request, principal)
            alarm_id = object_id(request, "alarm_id")
            fields = {"tenant_id": principal.tenant_id, "alarm_id": alarm_id, "actor": _actor(principal)}
            if method_name == "CommentAlarm":
                text = form.get("text", "").strip()
                if not text:
                    raise HTTPException(400, "a comment needs text")
                asked: Any = analytics_pb2.CommentAlarmRequest(**fields, text=text)
            else:
                asked = analytics_pb2.AlarmActionRequest(**fields)
            changed = await ask(getattr(backends.analytics, method_name), asked)
            if request.headers.get("hx-request") != "true":
                return RedirectResponse("/alarms", status_code=303)
            row = alarm_view(changed)
            row["device_name"] = (
                await _device_names(backends, principal.tenant_id, {changed.device_id})
            ).get(changed.device_id, changed.device_id)
            return render_rows(request, principal, [row], "plant/alarm_rows.html")

        return act

    return [
        Route("/alarms", alarm_list, name="alarms"),
        Route("/alarms/rows", alarm_list_rows, name="alarm_rows"),
        Route(
            "/alarms/{alarm_id}/acknowledge",
            action("AcknowledgeAlarm"),
            methods=["POST"],
            name="acknowledge_alarm",
        ),
        Route("/alarms/{alarm_id}/clear", action("ClearAlarm"), methods=["POST"], name="clear_alarm"),
        Route("/alarms/{alarm_id}/comment", action("CommentAlarm"), methods=["POST"], name="comment_alarm"),
    ]


def _listing(tenant_id: str, query: QueryParams) -> analytics_pb2.ListAlarmsRequest:
    status = query.get("status") or "active"
    if status not in STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
    request = analytics_pb2.ListAlarmsRequest(
        tenant_id=tenant_id, statuses=STATUSES[status], page=common_pb2.PageRequest(page_size=PAGE_SIZE)
    )
    severity = query.get("severity", "")
    if severity:
        if severity not in SEVERITIES:
            raise HTTPException(400, f"severity must be one of {', '.join(SEVERITIES)}")
        request.severities.append(severity_of(severity))
    device = query.get("device", "").strip()
    if device:
        request.device_id = device  # analytics refuses one that is not a UUID (400)
    return request


def _actor(principal: Principal) -> str:
    """Who acted, as the alarm records it: the person's e-mail, unique in the platform."""
    return principal.email[:ACTOR_LENGTH]


async def _device_names(
    backends: Backends, tenant_id: str, device_ids: Sequence[str] | set[str]
) -> dict[str, str]:
    """The display names (else serial numbers) of the devices; a device not found keeps its id."""

    async def name_of(device_id: str) -> tuple[str, str]:
        try:
            device = await ask(
                backends.registry.GetDevice,
                registry_pb2.GetDeviceRequest(tenant_id=tenant_id, device_id=device_id),
            )
        except HTTPException:
            return device_id, device_id
        return device_id, device.display_name or device.serial_number

    return dict(await asyncio.gather(*(name_of(device_id) for device_id in device_ids)))
