"""The event listener on the real broker, and the authentication cache it keeps fresh: in
one process, and across two registry-api processes sharing a PostgreSQL database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pika
import pytest
from gantry.v1 import registry_pb2 as pb
from sqlalchemy import Table

from services.kit.bus import ConfirmingPublisher, OutgoingMessage, Topology
from services.kit.events import Event, new_event
from services.kit.listener import EventListener
from services.kit.store import Store
from services.registry import storage
from services.registry.usecases.cache import EVICTING_EVENTS, EvictingCache
from tests.support.access import (
    Stub,
    access_server,
    authenticate_device,
    authenticate_key,
    authenticates,
    create_tenant,
    insert_device,
    issue_token,
    mask,
    migrated_store,
    revoke_token,
    secret_hash_broken,
)
from tests.support.backends import AMQP_URL, postgres_database
from tests.support.platform import ROOT, free_port, grpc_serving
from tests.support.waiting import eventually

STOP_TIMEOUT_SECONDS = 20
# Well inside the cache's TTL: an identity forgotten this fast was evicted, not expired.
EVICTION_BOUND_SECONDS = 10


@contextmanager
def listening(
    topology: Topology,
    event_types: list[str],
    on_event: Callable[[Event], None],
    **on_connection_change: Callable[[], None],
) -> Iterator[EventListener]:
    listener = EventListener(AMQP_URL, topology, event_types, on_event, **on_connection_change)
    listener.start()
    try:
        yield listener
    finally:
        listener.stop()


def publish(publisher: ConfirmingPublisher, *events: Event) -> None:
    publisher([OutgoingMessage(e.id, e.type, e.to_message(), "") for e in events])


def publish_raw(topology: Topology, routing_key: str, body: bytes) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().basic_publish(topology.events_exchange, routing_key, body)
    finally:
        connection.close()


def revoked(credential_id: str) -> Event:
    return new_event("credential.revoked", "t1", {"credential_id": credential_id, "device_id": "d1"})


def test_the_listener_hears_the_valid_events_it_listens_for(
    topology: Topology, publisher: ConfirmingPublisher
) -> None:
    heard: list[Event] = []
    connections: list[bool] = []
    with listening(
        topology,
        ["credential.revoked", "api_key.revoked"],
        heard.append,
        on_connected=lambda: connections.append(True),
    ) as listener:
        eventually(lambda: listener.connected, what="the listener to connect")
        publish_raw(topology, "credential.revoked", b"not json")
        publish_raw(topology, "credential.revoked", b'{"type": "credential.revoked"}')
        publish(
            publisher,
            new_event("tenant.created", "t1", {"name": "A", "country": "CN", "size_class": "small"}),
        )
        wanted = [revoked("c1"), new_event("api_key.revoked", "t1", {"api_key_id": "k1"})]
        publish(publisher, *wanted)
        eventually(lambda: len(heard) >= len(wanted), what="the events to be heard")
        assert [e.id for e in heard] == [e.id for e in wanted]
        assert listener.connected and connections == [True]
    assert not listener.connected


def test_a_failing_callback_drops_the_connection_and_the_listener_reconnects(
    topology: Topology, publisher: ConfirmingPublisher
) -> None:
    changes: list[str] = []

    def fail(event: Event) -> None:
        raise RuntimeError("handler broke")

    with listening(
        topology,
        ["credential.revoked"],
        fail,
        on_connected=lambda: changes.append("connected"),
        on_disconnected=lambda: changes.append("disconnected"),
    ) as listener:
        eventually(lambda: listener.connected, what="the listener to connect")
        publish(publisher, revoked("c1"))
        eventually(lambda: len(changes) == 3 and listener.connected, what="the listener to reconnect")
        assert changes == ["connected", "disconnected", "connected"]


@dataclass(frozen=True)
class Token:
    tenant: str
    device: str
    credential: str
    secret: str


def new_token(registry: Stub, store: Store) -> Token:
    tenant = create_tenant(registry).tenant.id
    device = insert_device(store, tenant)
    issued = issue_token(registry, tenant, device)
    return Token(tenant, device, issued.credential.id, issued.access_token)


def remembers(store: Store, authenticate: Callable[[], object], table: Table, row_id: str) -> bool:
    """Whether a process authenticates a secret from memory: it still accepts it while the
    database would refuse it."""
    authenticate()
    with secret_hash_broken(store, table, row_id):
        return authenticates(authenticate)


def remembers_token(registry: Stub, store: Store, token: Token) -> bool:
    return remembers(
        store,
        lambda: authenticate_device(registry, token.secret),
        storage.device_credentials,
        token.credential,
    )


def remembers_key(registry: Stub, store: Store, api_key: str) -> bool:
    key_id = authenticate_key(registry, api_key).api_key_id
    return remembers(store, lambda: authenticate_key(registry, api_key), storage.api_keys, key_id)


@pytest.fixture
def serving_cache() -> EvictingCache:
    """A cache that serves, as it does while its process's listener is connected."""
    cache = EvictingCache()
    cache.resume()
    return cache


def test_the_process_that_revokes_a_token_forgets_it_at_once(
    store: Store, serving_cache: EvictingCache
) -> None:
    with access_server(store, cache=serving_cache) as registry:
        token = new_token(registry, store)
        assert remembers_token(registry, store, token)
        revoke_token(registry, token.tenant, token.device, token.credential)
        assert not authenticates(lambda: authenticate_device(registry, token.secret))


def test_the_process_that_revokes_a_key_forgets_it_at_once(
    store: Store, serving_cache: EvictingCache
) -> None:
    with access_server(store, cache=serving_cache) as registry:
        created = create_tenant(registry)
        assert remembers_key(registry, store, created.api_key)
        key_id = authenticate_key(registry, created.api_key).api_key_id
        registry.RevokeApiKey(pb.RevokeApiKeyRequest(tenant_id=created.tenant.id, api_key_id=key_id))
        assert not authenticates(lambda: authenticate_key(registry, created.api_key))


def test_the_process_that_suspends_a_tenant_forgets_its_keys_and_tokens_at_once(
    store: Store, serving_cache: EvictingCache
) -> None:
    with access_server(store, cache=serving_cache) as registry:
        token = new_token(registry, store)
        tenant = registry.GetTenant(pb.GetTenantRequest(tenant_id=token.tenant))
        api_key = registry.CreateApiKey(
            pb.CreateApiKeyRequest(tenant_id=token.tenant, name="ci", scopes=["admin"])
        ).secret
        assert remembers_token(registry, store, token) and remembers_key(registry, store, api_key)
        registry.UpdateTenant(
            pb.UpdateTenantRequest(
                tenant_id=tenant.id,
                expected_version=tenant.version,
                update_mask=mask("status"),
                status=pb.TENANT_STATUS_SUSPENDED,
            )
        )
        assert not authenticates(lambda: authenticate_device(registry, token.secret))
        assert not authenticates(lambda: authenticate_key(registry, api_key))


def test_the_cache_serves_nothing_once_its_listener_is_disconnected(store: Store, topology: Topology) -> None:
    cache = EvictingCache()
    with (
        listening(
            topology,
            list(EVICTING_EVENTS),
            cache.evict_for,
            on_connected=cache.resume,
            on_disconnected=cache.suspend,
        ) as listener,
        access_server(store, cache=cache) as registry,
    ):
        token = new_token(registry, store)
        eventually(lambda: remembers_token(registry, store, token), what="the cache to serve")
        listener.stop()
        with secret_hash_broken(store, storage.device_credentials, token.credential):
            assert not authenticates(lambda: authenticate_device(registry, token.secret))


@dataclass(frozen=True)
class RegistryApi:
    registry: Stub
    process: subprocess.Popen

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_TIMEOUT_SECONDS)


def _serving(process: subprocess.Popen, target: str, log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(
            f"registry-api exited with {process.returncode}:\n{log.read_text(errors='replace')}"
        )
    return grpc_serving(target)


@contextmanager
def registry_api(database_url: str, topology: Topology, log: Path) -> Iterator[RegistryApi]:
    """A `python -m services.registry.api` process of its own port, on the given database and bus."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "GANTRY_REGISTRY_GRPC_PORT": str(port),
        "GANTRY_METRICS_PORT": "0",
        "GANTRY_REGISTRY_DATABASE_URL": database_url,
        "GANTRY_BUS_NAMESPACE": topology.namespace,
        "GANTRY_AMQP_URL": AMQP_URL,
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.registry.api"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    target = f"127.0.0.1:{port}"
    try:
        eventually(lambda: _serving(process, target, log), 30, "registry-api to serve")
        with grpc.insecure_channel(target) as channel:
            yield RegistryApi(Stub(channel), process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def shared_database() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_a_revocation_through_one_process_reaches_the_cache_of_another(
    shared_database: str, topology: Topology, tmp_path: Path
) -> None:
    with (
        migrated_store(shared_database, lambda messages: None) as store,
        registry_api(shared_database, topology, tmp_path / "a.log") as a,
        registry_api(shared_database, topology, tmp_path / "b.log") as b,
    ):
        token = new_token(a.registry, store)
        eventually(lambda: remembers_token(b.registry, store, token), what="B to answer from its cache")
        revoke_token(a.registry, token.tenant, token.device, token.credential)
        eventually(
            lambda: not authenticates(lambda: authenticate_device(b.registry, token.secret)),
            EVICTION_BOUND_SECONDS,
            "B to refuse the revoked token",
        )
        assert (a.stop(), b.stop()) == (0, 0)
