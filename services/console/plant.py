"""The plant pages, for signed-in people of a tenant: the overview, the devices with their
live values and charts, the alarms and the alarm rules of a profile."""

from __future__ import annotations

from starlette.routing import Route

from services.console import alarm_rules, alarms, devices, overview, series
from services.console.pages import Pages
from services.kit.grpc_clients import Backends


def routes(backends: Backends, pages: Pages) -> list[Route]:
    return [
        *overview.routes(backends, pages),
        *devices.routes(backends, pages),
        *series.routes(backends),
        *alarms.routes(backends, pages),
        *alarm_rules.routes(backends, pages),
    ]
