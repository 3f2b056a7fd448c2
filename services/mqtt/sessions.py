"""The connections this replica holds, by device, and the registry told of them: a device's
first connection and its last disconnection are reported at once (batched with whatever
else changed meanwhile), and every held device again each third of the lease, so that a
replica that dies leaves its devices online no longer than a lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from services.mqtt.backends import Backends, Rejected, Unavailable
from services.mqtt.domain.presence import DeviceKey, Presence

if TYPE_CHECKING:
    from services.mqtt.connection import Connection

log = logging.getLogger(__name__)

# The registry takes this many devices in one report.
REPORT_LIMIT = 10_000
# After a failed report, the changes wait this long before they are sent again.
RETRY_SECONDS = 2.0


class Sessions:
    def __init__(self, backends: Backends, lease_seconds: int) -> None:
        self.backends = backends
        self.lease_seconds = lease_seconds
        self._by_device: dict[str, set[Connection]] = {}
        self._presence = Presence()
        self._changed = asyncio.Event()

    def held(self, connection: Connection, key: DeviceKey) -> None:
        """A device is connected through `connection`: its own, or a machine behind a gateway."""
        self._by_device.setdefault(key[1], set()).add(connection)
        self._presence.connected(key)
        self._changed.set()

    def released(self, connection: Connection, key: DeviceKey) -> None:
        held = self._by_device.get(key[1], set())
        held.discard(connection)
        if not held:
            self._by_device.pop(key[1], None)
        self._presence.disconnected(key)
        self._changed.set()

    def of_device(self, device_id: str) -> list[Connection]:
        """The connections of a device to this replica (usually one, or none)."""
        return list(self._by_device.get(device_id, ()))

    async def report_continually(self) -> None:
        """Reports changes as they come and renews the leases; runs until cancelled."""
        renew_every = self.lease_seconds / 3
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + renew_every
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.0, renew_at - loop.time()))
            self._changed.clear()
            if loop.time() >= renew_at:
                self._presence.renew()
                renew_at = loop.time() + renew_every
            if not await self.report():
                await asyncio.sleep(RETRY_SECONDS)

    async def report(self) -> bool:
        """Tells the registry every pending change; False when it could not be told."""
        while self._presence.pending:
            connected, disconnected = self._presence.take(REPORT_LIMIT)
            try:
                await self.backends.report_connections(connected, disconnected, self.lease_seconds)
            except Unavailable:
                self._presence.give_back(connected, disconnected)
                log.warning("connections not reported", extra={"devices": len(connected) + len(disconnected)})
                return False
            except Rejected as error:
                log.error("connections refused", extra={"why": str(error)})
        return True
