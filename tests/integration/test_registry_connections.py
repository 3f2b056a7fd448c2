"""Devices connected to a protocol adapter are online until their lease ends or they go away."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.kit.errors import InvalidArgument
from services.kit.store import Store
from services.registry.domain import Connectivity
from services.registry.usecases.connections import Connections
from services.registry.usecases.devices import Devices
from tests.support.access import ManualClock, insert_device
from tests.support.registry import insert_tenant


def connectivity(store: Store, clock: ManualClock, tenant: str, device: str) -> Connectivity:
    devices = Devices(store.unit_of_work, clock=clock)
    try:
        return asyncio.run(devices.get(tenant, device))[1]
    finally:
        devices.close()


def test_a_connected_device_is_online_until_its_lease_ends(store: Store, clock: ManualClock) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    connections = Connections(store.unit_of_work, clock=clock)
    assert connectivity(store, clock, tenant, device) is Connectivity.NEVER_SEEN
    assert connections.report([(tenant, device)], [], lease_seconds=600) == 1
    clock.advance(timedelta(seconds=599))
    assert connectivity(store, clock, tenant, device) is Connectivity.ONLINE
    clock.advance(timedelta(seconds=2))
    assert connectivity(store, clock, tenant, device) is Connectivity.OFFLINE


def test_a_disconnected_device_is_offline_and_was_seen_then(store: Store, clock: ManualClock) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    connections = Connections(store.unit_of_work, clock=clock)
    connections.report([(tenant, device)], [], lease_seconds=600)
    clock.advance(timedelta(minutes=10))
    connections.report([], [(tenant, device)], lease_seconds=600)
    devices = Devices(store.unit_of_work, clock=clock)
    try:
        found, state = asyncio.run(devices.get(tenant, device))
    finally:
        devices.close()
    assert found.last_seen_at == clock.now
    # Seen moments ago, within its profile's online window: offline only once that passes.
    clock.advance(timedelta(hours=1))
    assert connectivity(store, clock, tenant, device) is Connectivity.OFFLINE
    assert state is Connectivity.ONLINE


def test_another_tenants_device_is_ignored(store: Store, clock: ManualClock) -> None:
    owner, stranger = insert_tenant(store), insert_tenant(store)
    device = insert_device(store, owner)
    assert Connections(store.unit_of_work, clock=clock).report([(stranger, device)], [], 600) == 0
    assert connectivity(store, clock, owner, device) is Connectivity.NEVER_SEEN


@pytest.mark.parametrize(
    ("connected", "lease", "field"),
    [([("x", "y")], 60, "connected[0].tenant_id"), ([], 0, "lease_seconds"), ([], 3601, "lease_seconds")],
    ids=["not-uuid", "no-lease", "long-lease"],
)
def test_bad_reports_name_the_field(store: Store, connected: list, lease: int, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        Connections(store.unit_of_work).report(connected, [], lease)
    assert [v.field for v in refused.value.violations] == [field]
