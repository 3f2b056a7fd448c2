"""What the HTTP processes (the gateway, the console) share: uvicorn's settings, and the
liveness and readiness probes over their gRPC backends."""

from __future__ import annotations

import orjson
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.kit.grpc_clients import Backends


def serve(factory: str, host: str, port: int) -> None:
    """Runs the application `factory` ("module:function") until SIGTERM; access lines are
    the application's own, and no Server header names the software."""
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def probe_routes(backends: Backends) -> list[Route]:
    """`/healthz`, alive while the process answers; `/readyz`, ready while every backend's
    service is SERVING, with each one's status."""

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await backends.health()
        ready = all(status == "SERVING" for status in checks.values())
        return _json({"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503)

    return [Route("/healthz", healthz), Route("/readyz", readyz)]


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")
