"""After PostgreSQL drops every connection (a restart, a failover), no call fails for a
pooled connection that went stale: idle ones are pinged before use, and a call that met a
broken one before committing runs once more on a fresh pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gantry.v1 import registry_pb2 as registry_pb
from gantry.v1.registry_pb2_grpc import RegistryServiceStub
from sqlalchemy import create_engine, exc, func, select, text

from services.kit import db
from services.kit.bus import ConfirmingPublisher
from services.kit.db import make_engine, normalise_url
from services.kit.store import Store
from services.registry.storage import profiles
from tests.support.access import migrated_store
from tests.support.backends import POSTGRES_URL, postgres_database
from tests.support.registry import create_profile, devices_server, insert_tenant


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def drop_connections(database_url: str) -> int:
    """Ends every server process of the database, as a restart of PostgreSQL does."""
    database = create_engine(normalise_url(database_url)).url.database
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        ended = connection.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"),
            {"name": database},
        ).scalar_one()
    admin.dispose()
    return ended


def read_once(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return connection.execute(text("SELECT 1")).scalar_one()


def test_a_connection_that_went_stale_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(postgres_url)
    assert read_once(engine) == 1
    assert drop_connections(postgres_url) == 1
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)

    assert read_once(engine) == 1
    engine.dispose()


def test_without_the_ping_a_stale_connection_fails_its_statement_as_invalidated(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 3600.0)
    engine = make_engine(postgres_url)
    read_once(engine)
    drop_connections(postgres_url)

    with pytest.raises(exc.OperationalError) as raised:
        read_once(engine)
    assert raised.value.connection_invalidated
    assert read_once(engine) == 1, "the pool's connections were replaced"
    engine.dispose()


def test_a_call_that_meets_a_stale_connection_is_answered_after_a_restart(
    postgres_url: str, publisher: ConfirmingPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 3600.0)  # only the call's own retry at work
    with migrated_store(postgres_url, publisher) as store, devices_server(store) as registry:
        tenant = insert_tenant(store)
        create_profile(registry, tenant)
        assert drop_connections(postgres_url) >= 1

        profile = create_profile(registry, tenant)

        assert profile.version == 1
        assert profile_count(store, tenant) == 2


def test_a_device_read_gathered_on_its_own_thread_is_answered_after_a_restart(
    postgres_url: str, publisher: ConfirmingPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GetDevice reads through the driver's own prepared statement, which SQLAlchemy never
    # sees fail: the read's own retry and the pool's replacement are at work.
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 3600.0)
    with migrated_store(postgres_url, publisher) as store, devices_server(store) as registry:
        tenant = insert_tenant(store)
        profile = create_profile(registry, tenant)
        spec = registry_pb.DeviceSpec(serial_number="CNC-0001", display_name="Mill", profile_id=profile.id)
        device = registry.RegisterDevice(
            registry_pb.RegisterDeviceRequest(tenant_id=tenant, device=spec)
        ).device
        assert get_device(registry, tenant, device.id).id == device.id
        assert drop_connections(postgres_url) >= 1

        for _ in range(3):  # every pooled connection was dropped, not only the next one
            assert get_device(registry, tenant, device.id).id == device.id


def get_device(registry: RegistryServiceStub, tenant_id: str, device_id: str) -> registry_pb.Device:
    request = registry_pb.GetDeviceRequest(tenant_id=tenant_id, device_id=device_id)
    return registry.GetDevice(request, timeout=10)


def profile_count(store: Store, tenant_id: str) -> int:
    query = select(func.count()).select_from(profiles).where(profiles.c.tenant_id == tenant_id)
    with store.engine.connect() as connection:
        return connection.execute(query).scalar_one()
