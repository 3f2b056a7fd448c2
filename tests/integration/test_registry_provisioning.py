"""Device provisioning in the registry, as ThingsBoard does it: a profile's strategy, key
and secret, and the answers a device gets for each way a request can go."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.kit.errors import AlreadyExists, InvalidArgument, NotFound, Unauthenticated
from services.kit.store import Store
from services.registry import storage
from services.registry.domain_provisioning import ProvisionRefused, ProvisionStatus, ProvisionStrategy
from services.registry.usecases.credentials import Credentials
from services.registry.usecases.devices import Devices
from services.registry.usecases.provisioning import Provisioning
from tests.support.access import insert_device
from tests.support.registry import insert_tenant

ALLOW = ProvisionStrategy.ALLOW_CREATE_NEW_DEVICES
CHECK = ProvisionStrategy.CHECK_PRE_PROVISIONED_DEVICES
SECRET = "provision-secret-0001"


@pytest.fixture
def devices(store: Store) -> Iterator[Devices]:
    devices = Devices(store.unit_of_work)
    yield devices
    devices.close()


@pytest.fixture
def provisioning(store: Store, devices: Devices) -> Provisioning:
    return Provisioning(store.unit_of_work, devices)


def profile_of(store: Store, device_id: str) -> str:
    with store.engine.connect() as connection:
        query = select(storage.devices.c.profile_id).where(storage.devices.c.id == device_id)
        return connection.execute(query).scalar_one()


def configured(
    store: Store, provisioning: Provisioning, strategy: ProvisionStrategy, key: str
) -> tuple[str, str]:
    """A tenant with a profile provisioning by `strategy` with `key`; (tenant id, profile id)."""
    tenant = insert_tenant(store)
    profile = profile_of(store, insert_device(store, tenant))
    provisioning.configure(tenant, profile, strategy, key, SECRET)
    return tenant, profile


def refusal(provisioning: Provisioning, name: str, key: str, secret: str, token: str = "") -> ProvisionStatus:
    with pytest.raises(ProvisionRefused) as refused:
        provisioning.provision(name, key, secret, token)
    return refused.value.status


def test_a_new_device_provisions_itself_under_the_profiles_tenant(
    store: Store, provisioning: Provisioning, devices: Devices
) -> None:
    tenant, profile = configured(store, provisioning, ALLOW, "key-allow-1")
    done = provisioning.provision("Press-7", "key-allow-1", SECRET, "")
    identity = Credentials(store.unit_of_work).authenticate(done.access_token)
    assert (identity.tenant_id, identity.device_id, identity.profile_id) == (tenant, done.device_id, profile)
    assert refusal(provisioning, "Press-7", "key-allow-1", SECRET) is ProvisionStatus.FAILURE


def test_a_device_may_choose_its_own_access_token(store: Store, provisioning: Provisioning) -> None:
    configured(store, provisioning, ALLOW, "key-allow-2")
    token = "my-own-token-of-press-8"
    done = provisioning.provision("Press-8", "key-allow-2", SECRET, token)
    assert done.access_token == token
    assert Credentials(store.unit_of_work).authenticate(token).device_id == done.device_id
    # Another device may not take it, nor a token too short to be safe.
    assert refusal(provisioning, "Press-9", "key-allow-2", SECRET, token) is ProvisionStatus.FAILURE
    assert refusal(provisioning, "Press-9", "key-allow-2", SECRET, "short") is ProvisionStatus.FAILURE
    with pytest.raises(Unauthenticated):
        Credentials(store.unit_of_work).authenticate("my-own-token-of-nobody")


def test_a_device_without_a_name_gets_one(store: Store, provisioning: Provisioning) -> None:
    configured(store, provisioning, ALLOW, "key-allow-3")
    done = provisioning.provision("", "key-allow-3", SECRET, "")
    with store.engine.connect() as connection:
        query = select(storage.devices.c.serial_number).where(storage.devices.c.id == done.device_id)
        assert connection.execute(query).scalar_one().startswith("provisioned-")


@pytest.mark.parametrize(
    ("key", "secret"),
    [("key-wrong-9", SECRET), ("key-allow-4", "wrong-secret-000001"), ("", SECRET), ("key-allow-4", "")],
    ids=["key", "secret", "no-key", "no-secret"],
)
def test_a_wrong_key_or_secret_is_not_found(
    store: Store, provisioning: Provisioning, key: str, secret: str
) -> None:
    configured(store, provisioning, ALLOW, "key-allow-4")
    assert refusal(provisioning, "Press-1", key, secret) is ProvisionStatus.NOT_FOUND


def test_disabled_provisioning_is_not_found(store: Store, provisioning: Provisioning) -> None:
    configured(store, provisioning, ProvisionStrategy.DISABLED, "key-disabled")
    assert refusal(provisioning, "Press-1", "key-disabled", SECRET) is ProvisionStatus.NOT_FOUND


def test_a_pre_provisioned_device_provisions_once(store: Store, provisioning: Provisioning) -> None:
    tenant = insert_tenant(store)
    device = insert_device(store, tenant)
    profile = profile_of(store, device)
    provisioning.configure(tenant, profile, CHECK, "key-check-1", SECRET)
    with store.engine.connect() as connection:
        query = select(storage.devices.c.serial_number).where(storage.devices.c.id == device)
        serial = connection.execute(query).scalar_one()
    done = provisioning.provision(serial, "key-check-1", SECRET, "")
    assert done.device_id == device
    assert Credentials(store.unit_of_work).authenticate(done.access_token).device_id == device
    assert refusal(provisioning, serial, "key-check-1", SECRET) is ProvisionStatus.FAILURE
    # A device that was not registered beforehand is not created.
    assert refusal(provisioning, "Press-unknown", "key-check-1", SECRET) is ProvisionStatus.FAILURE


def test_a_pre_provisioned_device_of_another_profile_is_refused(
    store: Store, provisioning: Provisioning
) -> None:
    tenant = insert_tenant(store)
    other = insert_device(store, tenant)
    provisioning.configure(
        tenant, profile_of(store, insert_device(store, tenant)), CHECK, "key-check-2", SECRET
    )
    with store.engine.connect() as connection:
        query = select(storage.devices.c.serial_number).where(storage.devices.c.id == other)
        serial = connection.execute(query).scalar_one()
    assert refusal(provisioning, serial, "key-check-2", SECRET) is ProvisionStatus.FAILURE


def test_settings_show_no_secret_and_keys_are_unique(store: Store, provisioning: Provisioning) -> None:
    tenant, profile = configured(store, provisioning, ALLOW, "key-unique-1")
    found = provisioning.get(tenant, profile)
    assert (found.strategy, found.provision_key) == (ALLOW, "key-unique-1")
    other_tenant = insert_tenant(store)
    other_profile = profile_of(store, insert_device(store, other_tenant))
    with pytest.raises(AlreadyExists):
        provisioning.configure(other_tenant, other_profile, ALLOW, "key-unique-1", SECRET)
    settings, secret = provisioning.configure(other_tenant, other_profile, ALLOW, "", "")
    assert len(settings.provision_key) >= 8 and len(secret) >= 16


def test_another_tenants_profile_is_not_found(store: Store, provisioning: Provisioning) -> None:
    _, profile = configured(store, provisioning, ALLOW, "key-tenancy")
    stranger = insert_tenant(store)
    with pytest.raises(NotFound):
        provisioning.get(stranger, profile)
    with pytest.raises(NotFound):
        provisioning.configure(stranger, profile, ALLOW, "key-tenancy", SECRET)


def test_bad_settings_are_refused(store: Store, provisioning: Provisioning) -> None:
    tenant = insert_tenant(store)
    profile = profile_of(store, insert_device(store, tenant))
    with pytest.raises(InvalidArgument) as refused:
        provisioning.configure(tenant, profile, ALLOW, "short", "tiny")
    assert [v.field for v in refused.value.violations] == ["provision_key", "provision_secret"]
