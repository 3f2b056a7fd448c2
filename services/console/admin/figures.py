"""The operator's platform figures, as the services expose them: companies registered (and
abroad, active, suspended) and the marketplace's completed orders with their amounts per
currency, in total and per UTC day over the last 30 days."""

from __future__ import annotations

import asyncio

from gantry.v1 import common_pb2, marketplace_pb2, registry_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.console.backend import ask
from services.console.pages import Pages
from services.console.sessions import Principal, requires
from services.kit.grpc_clients import Backends


def routes(backends: Backends, pages: Pages) -> list[Route]:
    async def tenants_in(status: int) -> int:
        # One tenant per page: only the count is wanted.
        listed = await ask(
            backends.registry.ListTenants,
            registry_pb2.ListTenantsRequest(status=status, page=common_pb2.PageRequest(page_size=1)),
        )
        return listed.page.total

    @requires(backends, "operator")
    async def figures(request: Request, principal: Principal) -> Response:
        stats, active, suspended = await asyncio.gather(
            ask(backends.marketplace.GetPlatformStats, marketplace_pb2.GetPlatformStatsRequest()),
            tenants_in(registry_pb2.TENANT_STATUS_ACTIVE),
            tenants_in(registry_pb2.TENANT_STATUS_SUSPENDED),
        )
        return pages.render(
            request,
            "admin/figures.html",
            principal=principal,
            stats=stats,
            active=active,
            suspended=suspended,
            days=list(reversed(stats.days)),
        )

    return [Route("/operator/figures", figures, methods=["GET"], name="operator_figures")]
