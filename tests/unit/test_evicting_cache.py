from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.errors import Unauthenticated
from services.kit.events import Event, new_event
from services.registry.domain import hash_secret
from services.registry.usecases.cache import (
    EvictingCache,
    Remembered,
    changed_id,
    parsed,
    verified,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TTL = 30.0


@dataclass(frozen=True)
class Device:
    id: str


@dataclass(frozen=True)
class Key:
    id: str


class Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class LookUp:
    """A database look-up that counts its calls, and may change things while it runs."""

    def __init__(
        self,
        identity: object,
        depends_on: tuple[str, ...],
        usable_until: datetime | None = None,
        meanwhile: Callable[[], None] = lambda: None,
    ) -> None:
        self.found = Remembered(identity, depends_on, usable_until)
        self.meanwhile = meanwhile
        self.calls = 0

    def __call__(self) -> Remembered[object]:
        self.calls += 1
        self.meanwhile()
        return self.found


def refuse() -> Remembered[Device]:
    raise Unauthenticated("invalid access token")


@pytest.fixture
def timer() -> Timer:
    return Timer()


@pytest.fixture
def cache(timer: Timer) -> EvictingCache:
    serving = EvictingCache(ttl_seconds=TTL, timer=timer)
    serving.resume()
    return serving


def ask(
    cache: EvictingCache,
    look_up: LookUp,
    secret: str = "gdt_1",
    kind: type = Device,
    now: datetime = NOW,
    times: int = 1,
) -> list[object]:
    """Authenticates `secret` `times` times; the identities found."""
    return [cache.remembered(secret, kind, now, look_up) for _ in range(times)]


def test_a_new_cache_serves_nothing_from_memory() -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1"))
    cache = EvictingCache()
    assert ask(cache, look_up, times=2) == [Device("d1")] * 2
    assert look_up.calls == 2


def test_a_secret_is_looked_up_once_while_the_cache_serves(cache: EvictingCache) -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1"))
    assert ask(cache, look_up, times=2) == [Device("d1")] * 2
    assert look_up.calls == 1
    ask(cache, look_up, "gdt_2")
    assert look_up.calls == 2


def test_refusals_are_not_remembered(cache: EvictingCache) -> None:
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            cache.remembered("gdt_1", Device, NOW, refuse)


def test_forgetting_an_id_forgets_only_what_depends_on_it(cache: EvictingCache) -> None:
    first, second = LookUp(Device("d1"), ("t1", "d1", "c1")), LookUp(Device("d2"), ("t1", "d2", "c2"))
    ask(cache, first, "gdt_1")
    ask(cache, second, "gdt_2")
    cache.forget("c1")
    ask(cache, first, "gdt_1")
    ask(cache, second, "gdt_2")
    assert (first.calls, second.calls) == (2, 1)
    cache.forget("t1")
    ask(cache, first, "gdt_1")
    ask(cache, second, "gdt_2")
    assert (first.calls, second.calls) == (3, 2)


@pytest.mark.parametrize(
    ("event", "changed"),
    [
        (new_event("credential.revoked", "t1", {"credential_id": "c1", "device_id": "d1"}), "c1"),
        (new_event("api_key.revoked", "t1", {"api_key_id": "k1"}), "k1"),
        (
            new_event(
                "device.state_changed",
                "t1",
                {"device_id": "d1", "version": 2, "previous_state": "active", "state": "suspended"},
            ),
            "d1",
        ),
        (
            new_event(
                "device.decommissioned",
                "t1",
                {"device_id": "d1", "version": 3, "previous_state": "active", "state": "decommissioned"},
            ),
            "d1",
        ),
        (
            new_event(
                "device.updated",
                "t1",
                {
                    "device_id": "d1",
                    "version": 2,
                    "changed": ["profile_version"],
                    "profile_id": "p1",
                    "profile_version": 2,
                },
            ),
            "d1",
        ),
        (
            new_event(
                "tenant.updated",
                "t1",
                {"name": "A", "country": "CN", "size_class": "small", "status": "suspended", "version": 2},
            ),
            "t1",
        ),
        (new_event("tenant.created", "t1", {"name": "A", "country": "CN", "size_class": "small"}), None),
    ],
)
def test_events_name_what_they_change(event: Event, changed: str | None) -> None:
    assert changed_id(event) == changed


def test_an_event_evicts_what_it_changes(cache: EvictingCache) -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1", "c1"))
    ask(cache, look_up)
    cache.evict_for(new_event("credential.revoked", "t1", {"credential_id": "c1", "device_id": "d1"}))
    ask(cache, look_up)
    assert look_up.calls == 2


def test_a_look_up_overtaken_by_a_change_is_not_kept(cache: EvictingCache) -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1"), meanwhile=lambda: cache.forget("d1"))
    ask(cache, look_up, times=2)
    assert look_up.calls == 2


def test_an_unrelated_change_does_not_stop_remembering(cache: EvictingCache) -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1"), meanwhile=lambda: cache.forget("d2"))
    ask(cache, look_up, times=2)
    assert look_up.calls == 1


def test_a_look_up_begun_before_a_forgotten_change_is_not_kept(cache: EvictingCache, timer: Timer) -> None:
    def change_then_outlive_it() -> None:
        cache.forget("d1")
        timer.now += TTL + 1
        cache.forget("d9")  # prunes the record of d1's change

    look_up = LookUp(Device("d1"), ("t1", "d1"), meanwhile=change_then_outlive_it)
    ask(cache, look_up)
    look_up.meanwhile = lambda: None
    ask(cache, look_up)
    assert look_up.calls == 2


def test_a_suspended_cache_forgets_everything_and_serves_nothing_until_resumed(cache: EvictingCache) -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1"))
    ask(cache, look_up)
    cache.suspend()
    ask(cache, look_up, times=2)
    assert look_up.calls == 3
    cache.resume()
    ask(cache, look_up, times=2)
    assert look_up.calls == 4


def test_a_look_up_begun_before_a_reconnection_is_not_kept(cache: EvictingCache) -> None:
    def reconnect() -> None:
        cache.suspend()
        cache.resume()

    look_up = LookUp(Device("d1"), ("t1", "d1"), meanwhile=reconnect)
    ask(cache, look_up)
    look_up.meanwhile = lambda: None
    ask(cache, look_up, times=2)
    assert look_up.calls == 2


def test_identities_are_forgotten_after_the_ttl(cache: EvictingCache, timer: Timer) -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1"))
    ask(cache, look_up)
    timer.now += TTL - 1
    ask(cache, look_up)
    timer.now += 1
    ask(cache, look_up)
    assert look_up.calls == 2


def test_an_identity_is_served_only_until_its_credential_expires(cache: EvictingCache) -> None:
    look_up = LookUp(Device("d1"), ("t1", "d1"), usable_until=NOW + timedelta(minutes=1))
    ask(cache, look_up)
    ask(cache, look_up, now=NOW + timedelta(seconds=59))
    assert look_up.calls == 1
    ask(cache, look_up, now=NOW + timedelta(minutes=1))
    assert look_up.calls == 2


def test_an_identity_is_served_only_as_its_own_kind(cache: EvictingCache) -> None:
    device, key = LookUp(Device("d1"), ("t1", "d1")), LookUp(Key("k1"), ("t1", "k1"))
    ask(cache, device, "same")
    assert ask(cache, key, "same", kind=Key) == [Key("k1")]
    assert (device.calls, key.calls) == (1, 1)


def test_the_ttl_is_at_most_a_minute() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        EvictingCache(ttl_seconds=61)


def test_malformed_secrets_are_refused_with_the_callers_message() -> None:
    with pytest.raises(Unauthenticated, match=r"^invalid API key$"):
        parsed("gnt", "gnt_nothex_secret", "invalid API key")


def test_an_unknown_credential_never_verifies() -> None:
    assert verified(hash_secret("s3cret"), "s3cret")
    assert not verified(hash_secret("s3cret"), "other")
    assert not verified(None, "s3cret") and not verified(None, "")
