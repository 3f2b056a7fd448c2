"""The gateway's ASGI application."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway import docs, openapi
from services.gateway.auth import Authenticator
from services.gateway.clients import Backends
from services.gateway.endpoints import Guards, json_response, starlette_handler
from services.gateway.idempotency import Idempotency
from services.gateway.problems import Problem
from services.gateway.ratelimit import RateLimiting
from services.gateway.routes import ENDPOINTS
from services.gateway.settings import GatewaySettings
from services.kit import metrics
from services.kit.http import probe_routes
from services.kit.logs import bind_request_id

access_log = logging.getLogger("gantry.access")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a well-formed `X-Request-Id` or makes one, and echoes it on the response;
    counts, times and logs every request by its route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Request(scope).headers.get("x-request-id", "")
        request_id = bind_request_id(offered if _SAFE_REQUEST_ID.match(offered) else None)

        started = time.perf_counter()
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
                route = getattr(scope.get("endpoint"), "__name__", "unmatched")
                metrics.HTTP_HANDLED.labels(route, str(message["status"])).inc()
                metrics.HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
                # Logged before the answer leaves, so that whoever holds it finds its line.
                _log_access(scope, message["status"], started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not answered:
                _log_access(scope, 500, started)
            raise


def _log_access(scope: Scope, status: int, started: float) -> None:
    """One line per request. The route's template, never the path, which holds the device
    API's access tokens; no header, which hold API keys."""
    access_log.info(
        "http request",
        extra={
            "method": scope["method"],
            "route": getattr(scope.get("route"), "path", "unmatched"),
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
            "tenant_id": scope.get("state", {}).get("tenant_id"),
        },
    )


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    slugs = {404: "not-found", 405: "method-not-allowed"}
    return Problem(
        error.status_code, slugs.get(error.status_code, "http-error"), str(error.detail)
    ).response()


def create_app(config: GatewaySettings | None = None) -> Starlette:
    config = config or GatewaySettings.from_env()
    backends = Backends()
    guards = Guards(
        Authenticator(backends, config.operator_token, config.api_key_cache_seconds),
        RateLimiting.from_env(),
        Idempotency.from_env(),
    )
    document = openapi.build(ENDPOINTS)

    async def openapi_json(request: Request) -> Response:
        return json_response(document)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        backends.open()
        yield
        await backends.close()
        await guards.limits.close()
        await guards.idempotency.close()

    routes = [
        Route(e.path, starlette_handler(e, backends, guards), methods=[e.method]) for e in ENDPOINTS
    ] + [
        *probe_routes(backends),
        Route(openapi.OPENAPI_PATH, openapi_json),
        *docs.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.add_middleware(RequestIdMiddleware)
    return app
