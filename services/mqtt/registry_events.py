"""What the registry's events change for connected devices, within the time an event takes
to arrive: sessions revoked end, subscribed devices hear of their shared attributes, and
server-side calls reach the devices connected here. The events are heard by the kit's
EventListener on a thread of its own and handed to the event loop; after a disconnection of
the listener, when events may have been missed, every connected device's token is checked
with the registry again, and the calls it awaits are delivered."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.kit import settings
from services.kit.bus import Topology
from services.kit.events import Event
from services.kit.listener import EventListener
from services.mqtt.backends import Backends, Unavailable
from services.mqtt.domain import attributes, revocations, rpcs
from services.mqtt.domain.refusals import ADMINISTRATIVE_ACTION, Refused
from services.mqtt.server import Server

log = logging.getLogger(__name__)


class RegistryEvents:
    def __init__(self, server: Server, backends: Backends, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.backends = backends
        self.loop = loop
        self.listener = EventListener(
            settings.amqp_url(),
            Topology.from_env(),
            (*revocations.EVENT_TYPES, attributes.DEVICE_UPDATED, rpcs.RPC_REQUESTED),
            self._heard,
            on_connected=self._reconnected,
        )

    def _heard(self, event: Event) -> None:
        self.loop.call_soon_threadsafe(self.apply, event)

    def apply(self, event: Event) -> None:
        if event.type == rpcs.RPC_REQUESTED:
            # Every replica hears every call; the one holding the device's connection delivers it.
            device_id = event.data["device_id"]
            for connection in self.server.sessions.of_device(device_id):
                connection.rpc_requested(device_id, [event.data["rpc_id"]])
            return
        if changed := attributes.changed_attributes(event.type, event.data):
            self._attributes_changed(*changed)
            return
        if event.type == revocations.TENANT_UPDATED:
            self.backends.forget()
        elif device_id := revocations.concerns_device(event.data):
            self.backends.forget(device_id)
        for connection in list(self.server.connections):
            session = connection.connected
            if session and (why := revocations.ends(event.type, event.tenant_id, event.data, session)):
                connection.end(Refused(ADMINISTRATIVE_ACTION, why))

    def _attributes_changed(self, device_id: str, after: dict[str, Any]) -> None:
        for connection in self.server.sessions.of_device(device_id):
            connection.attributes_changed(device_id, after)

    def _reconnected(self) -> None:
        asyncio.run_coroutine_threadsafe(self._recheck(), self.loop)

    async def _recheck(self) -> None:
        self.backends.forget()
        for connection in list(self.server.connections):
            if connection.connected is None:
                continue
            try:
                device = await self.backends.authenticate(connection.token, fresh=True)
            except Unavailable:
                log.warning("session not checked again", extra={"device_id": connection.device_id})
                continue
            if device is None or not device.accepts_data:
                connection.end(Refused(ADMINISTRATIVE_ACTION, "its access or device changed while unheard"))
            else:
                # Calls announced while unheard are delivered now.
                connection.rpc_requested(None, [])
