"""The operator's view of the services as the console reaches them: each backend's gRPC
health (the service it serves, not only the server), and the console's readiness, which
needs them all."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.console.pages import Pages
from services.console.sessions import Principal, requires
from services.kit.grpc_clients import SERVICE_NAMES, Backends

SERVING = "SERVING"


def routes(backends: Backends, pages: Pages) -> list[Route]:
    @requires(backends, "operator")
    async def health(request: Request, principal: Principal) -> Response:
        checks = await backends.health()
        return pages.render(
            request,
            "admin/health.html",
            principal=principal,
            checks=[(backend, SERVICE_NAMES[backend], status) for backend, status in checks.items()],
            ready=all(status == SERVING for status in checks.values()),
        )

    return [Route("/operator/health", health, methods=["GET"], name="operator_health")]
