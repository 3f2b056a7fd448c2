"""Authentication's shared checks, and a process's memory of what its hottest calls
recently read: identities of secrets it authenticated, and devices.

An answer from memory is only as fresh as the events that evict it. So the cache
serves nothing until told that events are arriving (`resume`), and forgets
everything whenever they may have stopped or been missed (`suspend`, `resume`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from services.kit.errors import Unauthenticated
from services.kit.events import Event
from services.registry.domain import parse_secret, secret_matches

MAX_TTL_SECONDS = 60.0
DEFAULT_TTL_SECONDS = 30.0
DEFAULT_MAX_ENTRIES = 50_000

# The id in each event's data of what the event changes; an identity that depends
# on that id is forgotten. tenant.updated names its tenant in the envelope.
_CHANGED_ID = {
    "credential.revoked": "credential_id",
    "api_key.revoked": "api_key_id",
    "device.updated": "device_id",
    "device.state_changed": "device_id",
    "device.decommissioned": "device_id",
}
EVICTING_EVENTS = (*_CHANGED_ID, "tenant.updated")

# Compared against when a presented credential id is unknown, so that an unknown id
# takes as long to refuse as a wrong secret.
_NO_HASH = "0" * 64

Identity = TypeVar("Identity")
Key = TypeVar("Key")
Value = TypeVar("Value")


def parsed(prefix: str, presented: str, refusal: str) -> tuple[str, str]:
    """The credential id and secret of a presented secret; Unauthenticated with `refusal` if malformed."""
    try:
        return parse_secret(prefix, presented)
    except Unauthenticated:
        raise Unauthenticated(refusal) from None


def verified(secret_hash: str | None, secret: str) -> bool:
    """Whether `secret` matches `secret_hash`; None, for an unknown credential, never does."""
    return secret_matches(secret_hash or _NO_HASH, secret) and secret_hash is not None


class Remembered(NamedTuple, Generic[Identity]):
    """Who a secret identifies, the ids whose change makes that stale, and until when it holds."""

    identity: Identity
    depends_on: tuple[str, ...]
    usable_until: datetime | None


def changed_id(event: Event) -> str | None:
    """The id of the tenant, device, credential or key an event changes."""
    if event.type == "tenant.updated":
        return event.tenant_id
    field = _CHANGED_ID.get(event.type)
    return event.data.get(field) if field else None


def _key(presented: str) -> bytes:
    return hashlib.sha256(presented.encode()).digest()


class _Expiring(Generic[Key, Value]):
    """Values by key, each forgotten `ttl` seconds after it was put, the oldest first
    when full. As every value lives equally long, the order of putting is the order of
    expiry, so one ordered dict serves both."""

    def __init__(self, max_entries: int, ttl: float, timer: Callable[[], float]) -> None:
        self._items: OrderedDict[Key, tuple[float, Value]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl = ttl
        self._timer = timer

    def get(self, key: Key) -> Value | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if self._timer() >= expires:
            del self._items[key]
            return None
        return value

    def put(self, key: Key, value: Value) -> None:
        self._items[key] = (self._timer() + self._ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max_entries:
            self._items.popitem(last=False)

    def discard(self, key: Key) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


class LookUp(NamedTuple):
    """A look-up of an identity the cache did not remember: its key, and the cache's
    generation when it began."""

    key: bytes
    generation: int


class _Entry(NamedTuple):
    identity: object
    depends_on: tuple[str, ...]
    usable_until: datetime | None
    # The cache's generation when the identity was looked up.
    generation: int


@dataclass(frozen=True)
class _Change:
    generation: int
    at: float


class EvictingCache:
    """Recently read answers (identities of secrets, devices), keyed by the SHA-256 of
    what they answer (the secret, the device's name).

    Safe to share between threads. A new cache serves nothing until `resume`.
    Forgetting is cheap however many identities are kept: each change is recorded
    with the generation it starts, and an identity looked up in an earlier
    generation that depends on a changed id is stale.
    """

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be in (0, {MAX_TTL_SECONDS}]")
        self._entries: _Expiring[bytes, _Entry] = _Expiring(max_entries, ttl_seconds, timer)
        self._ttl = ttl_seconds
        self._timer = timer
        self._lock = threading.Lock()
        self._serving = False
        self._generation = 0
        # Lookups begun before this generation are not kept: a change since may be forgotten.
        self._trusted_from = 0
        self._changes: OrderedDict[str, _Change] = OrderedDict()

    def remembered(
        self,
        presented: str,
        kind: type[Identity],
        now: datetime,
        look_up: Callable[[], Remembered[Identity]],
    ) -> Identity:
        """The identity of `presented`, from memory or else from `look_up`, which raises
        when the secret does not authenticate."""
        known, look_up_begun = self.recall(presented, kind, now)
        if known is not None:
            return known
        found = look_up()
        self.keep(look_up_begun, found)
        return found.identity

    def recall(self, presented: str, kind: type[Identity], now: datetime) -> tuple[Identity | None, LookUp]:
        """The remembered identity of `presented`, or None; and the look-up begun now,
        for `keep` to remember what it finds."""
        key = _key(presented)
        with self._lock:
            entry = self._entries.get(key) if self._serving else None
            if entry is not None and self._stale(entry):
                self._entries.discard(key)
                entry = None
            look_up = LookUp(key, self._generation)
        if entry is None or not isinstance(entry.identity, kind):
            return None, look_up
        if entry.usable_until is not None and now >= entry.usable_until:
            return None, look_up
        return entry.identity, look_up

    def keep(self, look_up: LookUp, found: Remembered[Identity]) -> None:
        """Remembers what `look_up` found, unless a change since it began made that stale."""
        entry = _Entry(found.identity, found.depends_on, found.usable_until, look_up.generation)
        with self._lock:
            if self._serving and look_up.generation >= self._trusted_from and not self._stale(entry):
                self._entries.put(look_up.key, entry)

    def forget(self, changed: str) -> None:
        """Forgets every identity that depends on the id `changed`."""
        with self._lock:
            self._generation += 1
            self._changes[changed] = _Change(self._generation, self._timer())
            self._changes.move_to_end(changed)
            self._prune_changes()

    def evict_for(self, event: Event) -> None:
        changed = changed_id(event)
        if changed:
            self.forget(changed)

    def resume(self) -> None:
        """Starts serving, empty: events missed before now evicted nothing."""
        self._reset(serving=True)

    def suspend(self) -> None:
        """Stops serving until `resume`: evicting events may not arrive meanwhile."""
        self._reset(serving=False)

    def _stale(self, entry: _Entry) -> bool:
        if not self._changes:
            return False
        for changed in entry.depends_on:
            change = self._changes.get(changed)
            if change is not None and change.generation > entry.generation:
                return True
        return False

    def _prune_changes(self) -> None:
        # Whatever a change older than the TTL made stale has expired since.
        horizon = self._timer() - self._ttl
        while self._changes and next(iter(self._changes.values())).at < horizon:
            _, change = self._changes.popitem(last=False)
            self._trusted_from = max(self._trusted_from, change.generation)

    def _reset(self, serving: bool) -> None:
        with self._lock:
            self._entries.clear()
            self._changes.clear()
            self._generation += 1
            self._trusted_from = self._generation
            self._serving = serving
