"""Client attributes devices report, merged safely, scoped to their tenant."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from services.kit.errors import InvalidArgument, NotFound
from services.kit.store import Store
from services.registry.storage import device_client_attributes
from services.registry.usecases.attributes import Attributes
from tests.support.access import insert_device
from tests.support.registry import insert_tenant


def test_reports_merge_key_by_key_and_null_removes(store: Store) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    attributes = Attributes(store.unit_of_work)
    attributes.report(tenant, device, {"fw": "1.0", "serial": "X1"})
    merged = attributes.report(tenant, device, {"fw": "1.1", "serial": None, "slots": [1, 2]})
    assert merged.client == {"fw": "1.1", "slots": [1, 2]}
    assert attributes.get(tenant, device, client_keys=["slots"]).client == {"slots": [1, 2]}


def test_concurrent_first_reports_both_land(store: Store) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    attributes = Attributes(store.unit_of_work)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: attributes.report(tenant, device, {f"k{i}": i}), range(8)))
    assert attributes.get(tenant, device).client == {f"k{i}": i for i in range(8)}


def test_another_tenants_device_is_not_found(store: Store) -> None:
    owner, stranger = insert_tenant(store), insert_tenant(store)
    device = insert_device(store, owner)
    attributes = Attributes(store.unit_of_work)
    with pytest.raises(NotFound):
        attributes.report(stranger, device, {"fw": "evil"})
    with pytest.raises(NotFound):
        attributes.get(stranger, device)
    assert rows(store) == 0


@pytest.mark.parametrize(
    "reported",
    [{}, {"": 1}, {"k" * 129: 1}, {"a\x00b": 1}, {"big": "x" * 20_000}, {f"k{i}": i for i in range(5000)}],
    ids=["empty", "empty-key", "long-key", "nul-key", "huge-value", "many-keys"],
)
def test_hostile_reports_are_refused_and_write_nothing(store: Store, reported: dict) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    with pytest.raises(InvalidArgument):
        Attributes(store.unit_of_work).report(tenant, device, reported)
    assert rows(store) == 0


def rows(store: Store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(device_client_attributes)).scalar_one()
