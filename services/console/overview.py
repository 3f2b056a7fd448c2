"""The plant's overview: devices by state and connectivity, active alarms by severity,
readings per minute, and today's OEE of the fleet where analytics measures it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
from gantry.v1 import analytics_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.console.backend import CALL_TIMEOUT_SECONDS, ask, for_tenant
from services.console.pages import Pages
from services.console.sessions import Principal
from services.kit.grpc_clients import Backends

STATES = ("active", "provisioned", "suspended", "decommissioned")
CONNECTIVITIES = ("online", "offline", "never_seen")
SEVERITIES = ("critical", "major", "minor", "warning")


def routes(backends: Backends, pages: Pages) -> list[Route]:
    @for_tenant(backends, "devices:read")
    async def overview(request: Request, principal: Principal) -> Response:
        figures, oee = await asyncio.gather(
            ask(
                backends.analytics.GetOverview,
                analytics_pb2.GetOverviewRequest(tenant_id=principal.tenant_id),
            ),
            _oee_today(backends, principal, pages.time_zone_of(request)),
        )
        return pages.render(
            request,
            "plant/overview.html",
            principal=principal,
            by_state=[(state, figures.devices_by_state.get(state, 0)) for state in STATES],
            by_connectivity=[(c, figures.devices_by_connectivity.get(c, 0)) for c in CONNECTIVITIES],
            alarms=[(s, figures.active_alarms_by_severity.get(s, 0)) for s in SEVERITIES],
            readings_per_minute=figures.readings_accepted_last_hour / 60,
            rejected_last_hour=figures.readings_rejected_last_hour,
            oee=oee,
        )

    return [Route("/overview", overview, name="overview")]


async def _oee_today(backends: Backends, principal: Principal, zone: ZoneInfo) -> float | None:
    """The fleet's OEE since midnight in the reader's zone; None where analytics has no
    figure (no machine model or calendar, no analytics:read) or cannot answer now."""
    if not principal.allows("analytics:read"):
        return None
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(midnight)
    end.FromDatetime(midnight + timedelta(days=1))
    request = analytics_pb2.GetPerformanceRequest(
        tenant_id=principal.tenant_id,
        fleet=True,
        start=start,
        end=end,
        granularity=analytics_pb2.GRANULARITY_DAY,
        zone=zone.key,
    )
    try:
        report = await backends.analytics.GetPerformance(request, timeout=CALL_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError:
        return None  # a figure of the page, not the page: the rest still shows
    figures = [period.figures for period in report.periods if period.figures.HasField("oee")]
    return figures[0].oee if figures else None
