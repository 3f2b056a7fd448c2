"""The partner API's routes, one module per area; each route translates HTTP to one gRPC
call and back, through the admission of `services.gateway.endpoints` and the converters
of `services.gateway.protojson`."""

from __future__ import annotations

from services.gateway.endpoints import Endpoint
from services.gateway.routes import (
    analytics,
    devices,
    marketplace_listings,
    marketplace_orders,
    performance,
    provisioning,
    rpcs,
    telemetry,
    tenants,
    thingsboard,
    webhooks,
)

# Every route of the partner API, documented in this order.
ENDPOINTS: list[Endpoint] = [
    *tenants.ENDPOINTS,
    *devices.ENDPOINTS,
    *provisioning.ENDPOINTS,
    *rpcs.ENDPOINTS,
    *telemetry.ENDPOINTS,
    *thingsboard.ENDPOINTS,
    *marketplace_listings.ENDPOINTS,
    *marketplace_orders.ENDPOINTS,
    *analytics.ENDPOINTS,
    *performance.ENDPOINTS,
    *webhooks.ENDPOINTS,
]
