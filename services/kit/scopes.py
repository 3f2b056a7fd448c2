"""The scopes an API key may hold: the registry grants them, the gateway checks them."""

from __future__ import annotations

SCOPES = (
    "admin",
    "devices:read",
    "devices:write",
    "telemetry:read",
    "telemetry:write",
    "marketplace:trade",
    "analytics:read",
    "analytics:write",
)
