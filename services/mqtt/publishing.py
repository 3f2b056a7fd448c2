"""What a device's publish to one of its own topics does, and what it is answered: the
adapter's use cases, between the connection (which reads and orders packets) and the backends."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mqtt5
import orjson

from services.mqtt import metrics
from services.mqtt.backends import Backends, Device, Rejected, Unavailable
from services.mqtt.domain import attributes, payloads, rpcs, topics
from services.mqtt.domain.refusals import BACKEND_UNAVAILABLE, PAYLOAD_FORMAT_INVALID, Refusal, Refused
from services.mqtt.domain.topics import Destination, Kind
from services.mqtt.edge_gateway import EdgeGateway, Presence

log = logging.getLogger(__name__)

SESSION_LIMITS_METHOD = "getSessionLimits"


@dataclass(frozen=True)
class SessionLimits:
    max_payload_bytes: int
    rate_per_second: float
    max_inflight: int


Handler = Callable[[Destination, bytes], Awaitable[list[mqtt5.Packet]]]


class Publisher:
    """Handles the publishes of one connected device."""

    def __init__(
        self,
        backends: Backends,
        device: Device,
        v5: bool,
        limits: SessionLimits,
        attached: Presence,
        detached: Presence,
    ) -> None:
        self.backends = backends
        self.device = device
        self.v5 = v5
        self.limits = limits
        # The machines behind the device, should it be an edge gateway.
        self.gateway = EdgeGateway(backends, device, self._ingest, attached, detached)
        # The shared attributes last told to the device, once it subscribed to their updates.
        self.shared: dict[str, Any] | None = None
        # Whether the device subscribed to server-side RPC: only then are calls delivered.
        self.takes_rpc = False
        self._handlers: dict[Kind, Handler] = {
            Kind.TELEMETRY: self._telemetry,
            Kind.ATTRIBUTES: self._attributes,
            Kind.ATTRIBUTES_REQUEST: self._attributes_request,
            Kind.RPC_REQUEST: self._rpc_request,
            Kind.RPC_RESPONSE: self._rpc_response,
            **dict.fromkeys(topics.GATEWAY_KINDS, self._for_machines),
        }

    async def handle(self, publish: mqtt5.PublishPacket, where: Destination) -> list[mqtt5.Packet]:
        """The packets that answer `publish`, its PUBACK last: sent only once the backend has
        kept what it carried. Raises Refused when the backend could not answer, so that the
        connection closes without acknowledging."""
        try:
            replies = await self._handlers[where.kind](where, publish.payload)
        except (payloads.BadPayload, Rejected) as refused:
            log.info(
                "publish refused",
                extra={"device_id": self.device.device_id, "topic": publish.topic, "why": str(refused)},
            )
            metrics.MESSAGES.labels(where.kind.value, "refused").inc()
            return self.acknowledge(publish, PAYLOAD_FORMAT_INVALID)
        except Unavailable as error:
            raise Refused(BACKEND_UNAVAILABLE, f"{where.kind.value}: {error}") from None
        metrics.MESSAGES.labels(where.kind.value, "accepted").inc()
        return replies + self.acknowledge(publish)

    async def subscribe(self, subscribe: mqtt5.SubscribePacket) -> list[mqtt5.Packet]:
        """Each of the device's own topics granted at QoS 1 at most, any other not authorised.
        A subscription to attribute updates starts from the shared attributes as they are."""
        codes = [
            mqtt5.SubAckReasonCode(min(int(f.max_qos), 1))
            if topics.may_subscribe(f.pattern)
            else mqtt5.SubAckReasonCode.NOT_AUTHORIZED
            for f in subscribe.topic_filters
        ]
        wants_updates = any(f.pattern == topics.ATTRIBUTES for f in subscribe.topic_filters)
        if wants_updates and self.shared is None:
            try:
                _, self.shared = await self.backends.attributes(
                    self.device, payloads.AttributesRequest((), ())
                )
            except Unavailable as error:
                raise Refused(BACKEND_UNAVAILABLE, f"attributes: {error}") from None
        suback: list[mqtt5.Packet] = [mqtt5.SubAckPacket(subscribe.packet_id, codes)]
        patterns = {f.pattern for f in subscribe.topic_filters}
        # Calls that waited are delivered once the device (or gateway) listens for them.
        if not self.takes_rpc and any(topics.takes_rpc(pattern) for pattern in patterns):
            self.takes_rpc = True
            suback += await self._deliver_own([])
        if not self.gateway.takes_rpc and topics.GATEWAY_RPC in patterns:
            suback += await self.gateway.listen()
        if self.gateway.shared is None and topics.GATEWAY_ATTRIBUTES in patterns:
            try:
                await self.gateway.listen_to_attributes()
            except Unavailable as error:
                raise Refused(BACKEND_UNAVAILABLE, f"attributes: {error}") from None
        return suback

    async def deliver_rpcs(self, device_id: str | None, rpc_ids: list[str]) -> list[mqtt5.Packet]:
        """The calls awaiting delivery (of `rpc_ids`, or all) of the device `device_id`: the
        connection's own or a machine behind it (None: every one of them)."""
        delivered = []
        if device_id in (None, self.device.device_id):
            delivered += await self._deliver_own(rpc_ids)
        for machine in list(self.gateway.machines.values()):
            if device_id in (None, machine.device_id):
                delivered += await self.gateway.deliver(machine, rpc_ids)
        return delivered

    async def _deliver_own(self, rpc_ids: list[str]) -> list[mqtt5.Packet]:
        """The device's calls, taken from the registry as they are published: each is
        delivered once, at most."""
        if not self.takes_rpc:
            return []
        try:
            calls = await self.backends.claim_rpcs(self.device, rpc_ids)
        except (Unavailable, Rejected) as error:
            # They stay queued: delivered at the next subscription or reconnection.
            log.warning("rpc not delivered", extra={"device_id": self.device.device_id, "why": str(error)})
            return []
        metrics.MESSAGES.labels("rpc_call", "delivered").inc(len(calls))
        return [
            _publish(
                topics.rpc_request(rpcs.topic_id(call.rpc_id)),
                rpcs.call_payload(call.method, call.params_json),
            )
            for call in calls
        ]

    def shared_changed(self, device_id: str, after: dict[str, Any]) -> list[mqtt5.Packet]:
        """The update to publish to a subscribed device whose shared attributes (or those of
        `device_id`, a machine behind it) are now `after`."""
        if device_id != self.device.device_id:
            return self.gateway.shared_changed(device_id, after)
        if self.shared is None:
            return []
        update = attributes.shared_update(self.shared, after)
        self.shared = after
        return [_publish(topics.ATTRIBUTES, orjson.dumps(update))] if update else []

    def acknowledge(self, publish: mqtt5.PublishPacket, refusal: Refusal | None = None) -> list[mqtt5.Packet]:
        return acknowledgement(publish, self.v5, refusal)

    def destination(self, topic: str) -> Destination | None:
        return topics.destination(topic)

    def close(self) -> None:
        self.gateway.close()

    async def _for_machines(self, where: Destination, payload: bytes) -> list[mqtt5.Packet]:
        return await self.gateway.handlers[where.kind](payload)

    async def _telemetry(self, _: Destination, payload: bytes) -> list[mqtt5.Packet]:
        await self._ingest(self.device, payload)
        return []

    async def _ingest(self, device: Device, payload: bytes) -> None:
        """Hands readings of `device` to telemetry; BadPayload when it took none."""
        result = await self.backends.ingest(device, payload)
        metrics.READINGS.labels("accepted").inc(result.accepted)
        metrics.READINGS.labels("rejected").inc(result.rejected)
        if result.rejected:
            log.info(
                "readings rejected",
                extra={
                    "device_id": device.device_id,
                    "accepted": result.accepted,
                    "rejected": result.rejected,
                    "reasons": list(result.reasons),
                },
            )
            if not result.accepted:
                raise payloads.BadPayload(f"every reading rejected: {'; '.join(result.reasons)}")

    async def _attributes(self, _: Destination, payload: bytes) -> list[mqtt5.Packet]:
        await self.backends.report_attributes(self.device, payloads.json_object(payload))
        return []

    async def _attributes_request(self, where: Destination, payload: bytes) -> list[mqtt5.Packet]:
        client, shared = await self.backends.attributes(self.device, payloads.attributes_request(payload))
        return [
            _publish(topics.attributes_response(where.request_id), payloads.attribute_values(client, shared))
        ]

    async def _rpc_request(self, where: Destination, payload: bytes) -> list[mqtt5.Packet]:
        """A device's own RPC: ThingsBoard's SDK asks for its session's limits as it connects."""
        call = payloads.rpc_call(payload)
        if call.method == SESSION_LIMITS_METHOD:
            limits = self.limits
            answer = payloads.session_limits(
                limits.max_payload_bytes, limits.rate_per_second, limits.max_inflight
            )
        else:
            answer = payloads.rpc_error(f"no such method: {call.method[:64]}")
        return [_publish(topics.rpc_response(where.request_id), answer)]

    async def _rpc_response(self, where: Destination, payload: bytes) -> list[mqtt5.Packet]:
        """A device's answer to a server-side RPC; one that no call awaits (unknown, expired,
        answered) is taken and dropped, as sending it again would change nothing."""
        rpc_id = rpcs.rpc_id_of(where.request_id)
        answer = rpcs.answer_json(payload)
        try:
            if rpc_id is None:
                raise Rejected("no server-side RPC has this id")
            await self.backends.answer_rpc(self.device, rpc_id, answer)
        except Rejected as error:
            log.info(
                "rpc answer dropped",
                extra={"device_id": self.device.device_id, "request_id": where.request_id, "why": str(error)},
            )
        return []


def _publish(topic: str, payload: bytes) -> mqtt5.PublishPacket:
    # At most once: the adapter keeps no session in which to retry a delivery; a device asks again.
    return mqtt5.PublishPacket(topic, payload)


def acknowledgement(
    publish: mqtt5.PublishPacket, v5: bool, refusal: Refusal | None = None
) -> list[mqtt5.Packet]:
    """The PUBACK of a QoS 1 publish; in MQTT 5 with the refusal's reason code. MQTT 3.1.1
    cannot refuse: a refusal that sending again would not change is acknowledged."""
    if publish.qos == mqtt5.QoS.AT_MOST_ONCE or publish.packet_id is None:
        return []
    code = mqtt5.PubAckReasonCode(refusal.v5) if refusal and v5 else mqtt5.PubAckReasonCode.SUCCESS
    return [mqtt5.PubAckPacket(publish.packet_id, reason_code=code)]
