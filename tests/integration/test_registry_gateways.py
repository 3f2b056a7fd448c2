"""Machines an edge gateway names: devices of its tenant, registered on first mention under
the profile the gateway device names, and found again after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.kit.store import Store
from services.registry import storage
from services.registry.usecases.devices import Devices
from services.registry.usecases.gateways import Gateways
from tests.support.access import insert_device, set_row
from tests.support.registry import insert_tenant


def gateway_of(store: Store, tenant: str) -> tuple[str, str]:
    """A gateway device naming its own profile for its machines; (gateway id, profile id)."""
    gateway = insert_device(store, tenant)
    with store.engine.connect() as connection:
        profile_id = connection.execute(
            select(storage.devices.c.profile_id).where(storage.devices.c.id == gateway)
        ).scalar_one()
    set_row(store, storage.devices, gateway, attributes={"gateway_profile_id": profile_id})
    return gateway, profile_id


@pytest.fixture
def gateways(store: Store) -> Iterator[Gateways]:
    devices = Devices(store.unit_of_work)
    yield Gateways(store.unit_of_work, devices)
    devices.close()


def test_machines_are_registered_once_under_the_gateways_profile(store: Store, gateways: Gateways) -> None:
    tenant = insert_tenant(store)
    gateway, profile_id = gateway_of(store, tenant)
    first = gateways.resolve(tenant, gateway, ["Press-1", "Lathe-2"])
    assert [(d.serial_number, d.display_name, d.profile_id) for d in first] == [
        ("Press-1", "Press-1", profile_id),
        ("Lathe-2", "Lathe-2", profile_id),
    ]
    again = gateways.resolve(tenant, gateway, ["Lathe-2", "Press-1"])
    assert [d.id for d in again] == [first[1].id, first[0].id]


def test_a_gateway_naming_no_profile_is_refused(store: Store, gateways: Gateways) -> None:
    tenant = insert_tenant(store)
    with pytest.raises(FailedPrecondition):
        gateways.resolve(tenant, insert_device(store, tenant), ["Press-1"])


def test_another_tenants_gateway_is_not_found(store: Store, gateways: Gateways) -> None:
    owner, stranger = insert_tenant(store), insert_tenant(store)
    gateway, _ = gateway_of(store, owner)
    with pytest.raises(NotFound):
        gateways.resolve(stranger, gateway, ["Press-1"])


@pytest.mark.parametrize(
    ("names", "field"),
    [([], "names"), (["ok", "has space"], "names[1]"), (["x" * 65], "names[0]"), (["n"] * 101, "names")],
    ids=["none", "space", "long", "many"],
)
def test_bad_names_are_refused(store: Store, gateways: Gateways, names: list[str], field: str) -> None:
    tenant = insert_tenant(store)
    gateway, _ = gateway_of(store, tenant)
    with pytest.raises(InvalidArgument) as refused:
        gateways.resolve(tenant, gateway, names)
    assert [v.field for v in refused.value.violations] == [field]
