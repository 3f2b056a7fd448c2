"""The settings and operator pages: a tenant's API keys and webhooks, and the operator's
tenants, platform figures and service health."""

from __future__ import annotations

from starlette.routing import Route

from services.console.admin import api_keys, figures, health, tenants, webhooks
from services.console.pages import Pages
from services.kit.grpc_clients import Backends


def routes(backends: Backends, pages: Pages) -> list[Route]:
    return [
        *api_keys.routes(backends, pages),
        *webhooks.routes(backends, pages),
        *tenants.routes(backends, pages),
        *figures.routes(backends, pages),
        *health.routes(backends, pages),
    ]
