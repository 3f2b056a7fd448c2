"""Which devices this replica holds connections of, and which changes the registry has yet
to hear: plain bookkeeping, so that reports are batched, retried and renewed as leases."""

from __future__ import annotations

DeviceKey = tuple[str, str]  # (tenant id, device id)


class Presence:
    def __init__(self) -> None:
        # Connections per device on this replica.
        self._held: dict[DeviceKey, int] = {}
        # Not yet reported: True connected, False disconnected; the latest change wins.
        self._pending: dict[DeviceKey, bool] = {}

    def connected(self, key: DeviceKey) -> None:
        """Counts a connection; a device's first is news."""
        self._held[key] = self._held.get(key, 0) + 1
        if self._held[key] == 1:
            self._pending[key] = True

    def disconnected(self, key: DeviceKey) -> None:
        """Uncounts a connection; a device's last is news."""
        left = self._held.get(key, 0) - 1
        if left > 0:
            self._held[key] = left
            return
        self._held.pop(key, None)
        self._pending[key] = False

    def renew(self) -> None:
        """Makes every held device due for reporting again, before its lease ends."""
        for key in self._held:
            self._pending.setdefault(key, True)

    def take(self, limit: int) -> tuple[list[DeviceKey], list[DeviceKey]]:
        """Up to `limit` pending changes (connected, disconnected), no longer pending."""
        connected: list[DeviceKey] = []
        disconnected: list[DeviceKey] = []
        while self._pending and len(connected) + len(disconnected) < limit:
            key, is_connected = self._pending.popitem()
            (connected if is_connected else disconnected).append(key)
        return connected, disconnected

    def give_back(self, connected: list[DeviceKey], disconnected: list[DeviceKey]) -> None:
        """Changes a report failed to tell, pending again unless newer ones replaced them."""
        for keys, is_connected in ((connected, True), (disconnected, False)):
            for key in keys:
                self._pending.setdefault(key, is_connected)

    @property
    def pending(self) -> bool:
        return bool(self._pending)
