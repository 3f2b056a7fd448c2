"""ThingsBoard's gateway API on one connection: an edge gateway device connects machines by
name, publishes their telemetry and attributes, and relays calls to them and their answers.
The machines are devices of the gateway's tenant (the registry registers those it does not
know under the profile the gateway device names); while connected through the gateway they
are online, and their calls come through it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import mqtt5
import orjson

from services.mqtt import metrics
from services.mqtt.backends import Backends, Device, Rejected, Unavailable
from services.mqtt.domain import attributes, gateway, payloads, rpcs, topics
from services.mqtt.domain.topics import Kind

log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[list[mqtt5.Packet]]]
# Told when a machine connects through the gateway, or goes away.
Presence = Callable[[Device], None]
Ingest = Callable[[Device, bytes], Awaitable[None]]


class EdgeGateway:
    def __init__(
        self, backends: Backends, device: Device, ingest: Ingest, attached: Presence, detached: Presence
    ) -> None:
        self.backends = backends
        self.device = device
        self._ingest = ingest
        self._attached = attached
        self._detached = detached
        # The machines connected through this gateway, by name.
        self.machines: dict[str, Device] = {}
        # Whether the gateway subscribed to its machines' calls.
        self.takes_rpc = False
        # The shared attributes last told of each machine (by device id), once the gateway
        # subscribed to their updates on `v1/gateway/attributes`.
        self.shared: dict[str, dict[str, Any]] | None = None
        self._closed = False
        self.handlers: dict[Kind, Handler] = {
            Kind.GATEWAY_CONNECT: self._connect,
            Kind.GATEWAY_DISCONNECT: self._disconnect,
            Kind.GATEWAY_TELEMETRY: self._telemetry,
            Kind.GATEWAY_ATTRIBUTES: self._attributes,
            Kind.GATEWAY_ATTRIBUTES_REQUEST: self._attributes_request,
            Kind.GATEWAY_RPC: self._answer,
        }

    def close(self) -> None:
        """The gateway's connection ended: its machines go away, and none connects after."""
        self._closed = True
        for machine in self.machines.values():
            self._detached(machine)
        self.machines.clear()
        self.shared = None

    async def listen(self) -> list[mqtt5.Packet]:
        """The gateway subscribed to its machines' calls: those that waited come now."""
        self.takes_rpc = True
        return [packet for machine in self.machines.values() for packet in await self.deliver(machine, [])]

    async def deliver(self, machine: Device, rpc_ids: list[str]) -> list[mqtt5.Packet]:
        """A machine's calls awaiting delivery (of `rpc_ids`, or all), relayed on `v1/gateway/rpc`."""
        name = self._name_of(machine.device_id)
        if not self.takes_rpc or name is None:
            return []
        try:
            calls = await self.backends.claim_rpcs(machine, rpc_ids)
        except (Unavailable, Rejected) as error:
            log.warning("rpc not delivered", extra={"device_id": machine.device_id, "why": str(error)})
            return []
        metrics.MESSAGES.labels("gateway_rpc_call", "delivered").inc(len(calls))
        return [
            mqtt5.PublishPacket(
                topics.GATEWAY_RPC,
                gateway.machine_call(name, rpcs.topic_id(call.rpc_id), call.method, call.params_json),
            )
            for call in calls
        ]

    async def listen_to_attributes(self) -> None:
        """The gateway subscribed to its machines' shared-attribute updates: each machine's
        start from its attributes as they are."""
        self.shared = {}
        for machine in list(self.machines.values()):
            await self._remember_shared(machine)

    def shared_changed(self, device_id: str, after: dict[str, Any]) -> list[mqtt5.Packet]:
        """The update to relay on `v1/gateway/attributes` for a machine whose shared
        attributes are now `after`."""
        name = self._name_of(device_id)
        if self.shared is None or name is None or (before := self.shared.get(device_id)) is None:
            return []
        self.shared[device_id] = after
        update = attributes.shared_update(before, after)
        return (
            [mqtt5.PublishPacket(topics.GATEWAY_ATTRIBUTES, gateway.shared_update(name, update))]
            if update
            else []
        )

    async def _remember_shared(self, machine: Device) -> None:
        _, shared = await self.backends.attributes(machine, payloads.AttributesRequest((), ()))
        if self.shared is not None:
            self.shared[machine.device_id] = shared

    def machine(self, device_id: str) -> Device | None:
        return next((m for m in self.machines.values() if m.device_id == device_id), None)

    def _name_of(self, device_id: str) -> str | None:
        return next((name for name, m in self.machines.items() if m.device_id == device_id), None)

    async def _connect(self, payload: bytes) -> list[mqtt5.Packet]:
        name = gateway.machine_name(payload)
        fresh = name not in self.machines
        machine = (await self._connected([name]))[name]
        return await self.deliver(machine, []) if fresh else []

    async def _disconnect(self, payload: bytes) -> list[mqtt5.Packet]:
        if machine := self.machines.pop(gateway.machine_name(payload), None):
            self._detached(machine)
        return []

    async def _telemetry(self, payload: bytes) -> list[mqtt5.Packet]:
        await self._each(payload, lambda machine, data: self._ingest(machine, orjson.dumps(data)))
        return []

    async def _attributes(self, payload: bytes) -> list[mqtt5.Packet]:
        async def report(machine: Device, data: Any) -> None:
            if not isinstance(data, dict):
                raise payloads.BadPayload("a machine's attributes are one JSON object")
            await self.backends.report_attributes(machine, data)

        await self._each(payload, report)
        return []

    async def _attributes_request(self, payload: bytes) -> list[mqtt5.Packet]:
        """A machine's client or shared attributes, answered on `v1/gateway/attributes/response`."""
        request = gateway.attributes_request(payload)
        machine = (await self._connected([request.name]))[request.name]
        keys = (
            payloads.AttributesRequest(request.keys, ())
            if request.client
            else payloads.AttributesRequest((), request.keys)
        )
        client, shared = await self.backends.attributes(machine, keys)
        found = client if request.client else shared
        return [
            mqtt5.PublishPacket(
                topics.GATEWAY_ATTRIBUTES_RESPONSE, gateway.attributes_response(request, found)
            )
        ]

    async def _answer(self, payload: bytes) -> list[mqtt5.Packet]:
        answer = gateway.machine_answer(payload)
        machine, rpc_id = self.machines.get(answer.name), rpcs.rpc_id_of(answer.request_id)
        try:
            if machine is None or rpc_id is None:
                raise Rejected("no call of a machine connected through the gateway has this id")
            await self.backends.answer_rpc(machine, rpc_id, answer.answer_json)
        except Rejected as error:
            log.info("rpc answer dropped", extra={"device_id": self.device.device_id, "why": str(error)})
        return []

    async def _each(self, payload: bytes, handle: Callable[[Device, Any], Awaitable[Any]]) -> None:
        """Hands each machine's part of a publish to `handle`; machines not connected yet are."""
        parts = gateway.by_machine(payload)
        machines = await self._connected(list(parts))
        for name, data in parts.items():
            await handle(machines[name], data)

    async def _connected(self, names: list[str]) -> dict[str, Device]:
        """The machines named, connected through this gateway from now on."""
        unknown = [name for name in names if name not in self.machines]
        if unknown:
            found = await self.backends.machines(self.device, unknown)
            if self._closed:
                raise Rejected("the gateway's connection ended")
            for name in unknown:
                machine = found.get(name)
                if machine is None or not machine.accepts_data:
                    raise Rejected(f"machine {name} is suspended or decommissioned")
                self.machines[name] = machine
                self._attached(machine)
                if self.shared is not None:
                    await self._remember_shared(machine)
        return {name: self.machines[name] for name in names}
