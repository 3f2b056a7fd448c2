"""Server-side RPCs kept in the registry: sent once, answered once, expired when late,
listed newest first, and scoped to their tenant."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.kit.store import Store
from services.registry.domain_rpcs import RpcStatus
from services.registry.usecases.rpcs import Rpcs
from tests.support.access import ManualClock, insert_device
from tests.support.registry import insert_tenant


def send(rpcs: Rpcs, tenant: str, device: str, **options: object) -> str:
    request = {"method": "setValve", "one_way": False, "timeout_ms": 1000, "expires_in_seconds": 0, **options}
    return rpcs.send(str(uuid.uuid4()), tenant, device, request, '{"open": true}').id


def test_a_two_way_rpc_is_claimed_once_then_answered(store: Store, clock: ManualClock) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    rpcs = Rpcs(store.unit_of_work, clock=clock)
    rpc_id = send(rpcs, tenant, device)
    claimed = rpcs.claim(tenant, device, [])
    assert [(rpc.id, rpc.status, rpc.params) for rpc in claimed] == [(rpc_id, RpcStatus.SENT, {"open": True})]
    assert rpcs.claim(tenant, device, [rpc_id]) == []
    answered = rpcs.answer(tenant, device, rpc_id, '{"ok": 1}')
    assert (answered.status, answered.response) == (RpcStatus.SUCCEEDED, {"ok": 1})
    with pytest.raises(NotFound):
        rpcs.answer(tenant, device, rpc_id, '{"ok": 2}')


def test_a_one_way_rpc_is_delivered_once_claimed(store: Store, clock: ManualClock) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    rpcs = Rpcs(store.unit_of_work, clock=clock)
    rpc_id = send(rpcs, tenant, device, one_way=True)
    assert [rpc.status for rpc in rpcs.claim(tenant, device, [rpc_id])] == [RpcStatus.DELIVERED]


def test_an_rpc_waits_for_its_device_until_it_expires(store: Store, clock: ManualClock) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    rpcs = Rpcs(store.unit_of_work, clock=clock)
    waiting = send(rpcs, tenant, device, expires_in_seconds=60)
    late = send(rpcs, tenant, device)
    clock.advance(timedelta(seconds=30))
    assert rpcs.get(tenant, device, late).status is RpcStatus.EXPIRED
    assert [rpc.id for rpc in rpcs.claim(tenant, device, [])] == [waiting]


def test_rpcs_are_listed_newest_first_a_page_at_a_time(store: Store, clock: ManualClock) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    rpcs = Rpcs(store.unit_of_work, clock=clock)
    sent = []
    for _ in range(3):
        sent.append(send(rpcs, tenant, device))
        clock.advance(timedelta(seconds=1))
    first, cursor = rpcs.list(tenant, device, 2, "")
    second, last = rpcs.list(tenant, device, 2, cursor)
    assert [rpc.id for rpc in first + second] == sent[::-1]
    assert last == ""


def test_another_tenants_device_is_not_found(store: Store) -> None:
    owner, stranger = insert_tenant(store), insert_tenant(store)
    device = insert_device(store, owner)
    rpcs = Rpcs(store.unit_of_work)
    rpc_id = send(rpcs, owner, device)
    with pytest.raises(NotFound):
        send(rpcs, stranger, device)
    with pytest.raises(NotFound):
        rpcs.get(stranger, device, rpc_id)
    with pytest.raises(NotFound):
        rpcs.list(stranger, device, 0, "")
    assert rpcs.claim(stranger, device, []) == []


def test_a_decommissioned_device_takes_no_rpc(store: Store) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant, state="decommissioned")
    with pytest.raises(FailedPrecondition):
        send(Rpcs(store.unit_of_work), tenant, device)


@pytest.mark.parametrize(
    ("options", "params", "field"),
    [
        ({"method": ""}, "{}", "method"),
        ({"method": "a" * 129}, "{}", "method"),
        ({"timeout_ms": 50}, "{}", "timeout_ms"),
        ({"expires_in_seconds": -1}, "{}", "expires_in_seconds"),
        ({}, "{not json", "params"),
        ({}, '"' + "x" * 70_000 + '"', "params"),
    ],
    ids=["no-method", "long-method", "short-timeout", "negative-expiry", "not-json", "huge-params"],
)
def test_bad_rpcs_name_the_field(store: Store, options: dict, params: str, field: str) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    request = {"method": "m", "one_way": False, "timeout_ms": 1000, "expires_in_seconds": 0, **options}
    with pytest.raises(InvalidArgument) as refused:
        Rpcs(store.unit_of_work).send(str(uuid.uuid4()), tenant, device, request, params)
    assert [v.field for v in refused.value.violations] == [field]
