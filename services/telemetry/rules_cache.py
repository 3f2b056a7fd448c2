"""A process's memory of the devices it checks readings against.

Ingest asks for a device's rules on every call, so they are kept in memory. The
registry's events tell each process when a device changed, with the registry's
version after the change; the process's directory (kept by the telemetry worker
from the same events) may catch up a moment later. So an event does not just evict:
it raises the version an answer must reflect, and an answer read from a directory
that has not caught up is used for that call but not remembered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from services.kit.events import Event
from services.telemetry.rules import DeviceRules

DEFAULT_TTL_SECONDS = 30.0
DEFAULT_MAX_ENTRIES = 200_000


class DeviceRulesCache:
    """Safe to share between threads. Serves nothing from memory until `resume`, that is
    while the events that keep it fresh may be missed."""

    def __init__(
        self,
        load: Callable[[str], DeviceRules | None],
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._entries: TTLCache[str, DeviceRules] = TTLCache(max_entries, ttl_seconds, timer)
        # The registry version each recently changed device must be remembered at.
        self._required: TTLCache[str, int] = TTLCache(max_entries, ttl_seconds, timer)
        self._lock = threading.Lock()
        self._serving = False
        self._generation = 0

    def get(self, device_id: str) -> DeviceRules | None:
        """The device's rules; None when telemetry does not know the device."""
        with self._lock:
            known = self._entries.get(device_id) if self._serving else None
            generation = self._generation
        if known is not None:
            return known
        rules = self._load(device_id)
        if rules is not None:
            self._remember(rules, generation)
        return rules

    def require(self, device_id: str, version: int) -> None:
        """Forgets the device unless remembered at `version` or later."""
        with self._lock:
            self._required[device_id] = max(version, self._required.get(device_id, 0))
            known = self._entries.get(device_id)
            if known is not None and known.version < version:
                del self._entries[device_id]

    def evict_for(self, event: Event) -> None:
        version = event.data.get("version")
        if event.type.startswith("device.") and isinstance(version, int):
            self.require(event.data["device_id"], version)

    def resume(self) -> None:
        self._reset(serving=True)

    def suspend(self) -> None:
        self._reset(serving=False)

    def _remember(self, rules: DeviceRules, generation: int) -> None:
        with self._lock:
            current = generation == self._generation and self._serving
            if current and rules.version >= self._required.get(rules.device_id, 0):
                self._entries[rules.device_id] = rules

    def _reset(self, serving: bool) -> None:
        with self._lock:
            self._entries.clear()
            self._required.clear()
            self._generation += 1
            self._serving = serving
