"""Analytics fixtures for tests: its store on a migrated database, its gRPC API on a real
server, and alarm events as the bus delivers them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from gantry.v1 import analytics_pb2_grpc

from services.analytics.api.servicer import SERVICE_NAME, AnalyticsServicer
from services.analytics.storage import metadata
from services.analytics.usecases import Clock
from services.kit.events import Event, new_event, parse_event
from services.kit.migrate import upgrade
from services.kit.registry import ProfileChannel
from services.kit.store import Store
from tests.support.serving import serving

Stub = analytics_pb2_grpc.AnalyticsServiceStub


@contextmanager
def analytics_store(url: str) -> Iterator[Store]:
    upgrade("analytics", url)
    # Nothing these tests do emits an event: the outbox has no broker to reach.
    store = Store("analytics", metadata, lambda messages: None, url=url)
    try:
        yield store
    finally:
        store.close()


class NoRegistry:
    """The registry, for calls that never ask it anything."""

    def device_belongs(self, tenant_id: str, device_id: str) -> bool:
        raise AssertionError("not asked of the registry")

    def tenant_exists(self, tenant_id: str) -> bool:
        raise AssertionError("not asked of the registry")

    def profile_channels(self, tenant_id: str, profile_id: str) -> dict[str, ProfileChannel] | None:
        raise AssertionError("not asked of the registry")


@contextmanager
def analytics_server(store: Store, clock: Clock) -> Iterator[Stub]:
    """Analytics's API with the settings of the environment at this moment."""
    servicer = AnalyticsServicer(store, NoRegistry(), clock)
    with serving(
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server, servicer, SERVICE_NAME
    ) as channel:
        yield Stub(channel)


def alarm_event(tenant_id: str, event_type: str = "alarm.raised") -> Event:
    """An alarm event of the tenant's, as a consumer receives it from the bus."""
    data = {
        "alarm_id": str(uuid.uuid4()),
        "device_id": str(uuid.uuid4()),
        "rule_id": str(uuid.uuid4()),
        "name": "spindle overheating",
        "severity": "major",
        "previous_severity": None,
        "status": "active_unacknowledged",
        "started_at": "2026-12-06T10:00:00+00:00",
        "cleared_at": None,
        "actor": "rule",
        "reading": {"ts": "2026-12-06T10:00:00+00:00", "spindle_temp": 92.5},
    }
    return parse_event(new_event(event_type, tenant_id, data).to_message())
