"""Analytics fixtures for tests and benchmarks: its store on a migrated database, its gRPC
API on a real server, its directory taught devices as the registry's events would, a
registry that knows profiles, rules in the contract's shape, batches of readings as
ingest sends them, and alarm events as the bus delivers them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from gantry.v1 import analytics_pb2 as pb
from gantry.v1 import analytics_pb2_grpc

from services.analytics.api.messages import definition_message
from services.analytics.api.servicer import SERVICE_NAME, AnalyticsServicer
from services.analytics.storage import metadata
from services.analytics.usecases import Clock, utc_now
from services.analytics.usecases.directory import Directory
from services.kit.batches import AcceptedBatch, Scalar
from services.kit.bus import Publish
from services.kit.events import Event, new_event, parse_event
from services.kit.migrate import upgrade
from services.kit.registry import ProfileChannel
from services.kit.store import Store
from tests.support.serving import serving

Stub = analytics_pb2_grpc.AnalyticsServiceStub

# The channels of the profile most tests watch.
CHANNELS = {
    "spindle_temp": ProfileChannel("float"),
    "spindle_rpm": ProfileChannel("int"),
    "door_open": ProfileChannel("bool"),
    "mode": ProfileChannel("enum", ("AUTO", "MANUAL", "STOP")),
    "program": ProfileChannel("string"),
}


@contextmanager
def analytics_store(url: str, publish: Publish) -> Iterator[Store]:
    upgrade("analytics", url)
    store = Store("analytics", metadata, publish, url=url)
    try:
        yield store
    finally:
        store.close()


class ProfileRegistry:
    """The registry as analytics asks it: the channels of each tenant's profiles."""

    def __init__(self) -> None:
        self.profiles: dict[tuple[str, str], dict[str, ProfileChannel]] = {}

    def profile(self, tenant_id: str, channels: Mapping[str, ProfileChannel] = CHANNELS) -> str:
        profile_id = str(uuid.uuid4())
        self.profiles[(tenant_id, profile_id)] = dict(channels)
        return profile_id

    def profile_channels(self, tenant_id: str, profile_id: str) -> dict[str, ProfileChannel] | None:
        return self.profiles.get((tenant_id, profile_id))

    def device_belongs(self, tenant_id: str, device_id: str) -> bool:
        raise AssertionError("analytics never asks whose a device is")

    def tenant_exists(self, tenant_id: str) -> bool:
        raise AssertionError("analytics never asks whether a tenant exists")


@contextmanager
def analytics_server(
    store: Store, registry: ProfileRegistry | None = None, clock: Clock = utc_now
) -> Iterator[Stub]:
    """Analytics's API with the settings of the environment at this moment."""
    servicer = AnalyticsServicer(store, registry or ProfileRegistry(), clock)
    with serving(
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server, servicer, SERVICE_NAME
    ) as channel:
        yield Stub(channel)


def teach_device(
    store: Store,
    tenant_id: str,
    profile_id: str,
    labels: dict[str, str] | None = None,
    attributes: dict[str, Any] | None = None,
    device_id: str | None = None,
    site: str = "",
) -> str:
    """A new device of the tenant, as analytics learns it from the registry's events."""
    device_id = device_id or str(uuid.uuid4())
    registered = {
        "device_id": device_id,
        "serial_number": f"SN-{device_id[:8]}",
        "display_name": "Mill",
        "state": "active",
        "profile_id": profile_id,
        "profile_version": 1,
        "labels": labels or {},
        "attributes": attributes or {},
        "site": site,
    }
    Directory(store.unit_of_work).learn(new_event("device.registered", tenant_id, registered))
    return device_id


def rule_message(profile_id: str, definition: dict[str, Any]) -> pb.AlarmRule:
    """A rule of the profile in the contract's shape, from its definition's JSON form."""
    message = definition_message(definition)
    message.profile_id = profile_id
    return message


def above(channel: str, number: float) -> dict[str, Any]:
    return {"predicates": [{"channel": channel, "operator": "gt", "value": {"number": number}}]}


def below(channel: str, number: float) -> dict[str, Any]:
    return {"predicates": [{"channel": channel, "operator": "lt", "value": {"number": number}}]}


def batch(tenant_id: str, *devices: tuple[str, list[tuple[int, dict[str, Scalar]]]]) -> AcceptedBatch:
    return AcceptedBatch(
        str(uuid.uuid4()),
        tenant_id,
        365,
        [(device, [[ts, values] for ts, values in samples]) for device, samples in devices],
    )


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
        "reading": {"ts": 1796551200000, "spindle_temp": 92.5},
    }
    return parse_event(new_event(event_type, tenant_id, data).to_message())
