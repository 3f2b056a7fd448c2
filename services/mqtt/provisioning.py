"""A connection of a device provisioning itself (user name `provision`): it may publish its
request to `/provision/request` and subscribe to `/provision/response`, nothing else, and is
answered as ThingsBoard answers."""

from __future__ import annotations

import logging

import mqtt5
from gantry.v1 import registry_pb2

from services.kit import thingsboard_provisioning as thingsboard
from services.mqtt import metrics
from services.mqtt.backends import Backends, Unavailable
from services.mqtt.domain import provisioning
from services.mqtt.domain.refusals import BACKEND_UNAVAILABLE, PAYLOAD_FORMAT_INVALID, Refusal, Refused
from services.mqtt.domain.topics import Destination, Kind
from services.mqtt.publishing import acknowledgement

log = logging.getLogger(__name__)


class ProvisionPublisher:
    """Handles the publishes of one provisioning connection."""

    def __init__(self, backends: Backends, v5: bool, peer: str) -> None:
        self.backends = backends
        self.v5 = v5
        self.peer = peer

    @staticmethod
    def destination(topic: str) -> Destination | None:
        return Destination(Kind.PROVISION_REQUEST) if topic == provisioning.REQUEST_TOPIC else None

    def close(self) -> None:
        """Nothing is held for a provisioning connection."""

    async def handle(self, publish: mqtt5.PublishPacket, _: Destination) -> list[mqtt5.Packet]:
        """The answer on `/provision/response`, then the PUBACK; Refused when the registry
        could not answer, so that the connection closes without acknowledging."""
        try:
            wanted = thingsboard.request(publish.payload)
        except thingsboard.BadRequest as error:
            self._refused("bad_payload", str(error))
            return self.acknowledge(publish, PAYLOAD_FORMAT_INVALID)
        answer = await self._answer(wanted)
        return [mqtt5.PublishPacket(provisioning.RESPONSE_TOPIC, answer), *self.acknowledge(publish)]

    async def _answer(self, wanted: thingsboard.ProvisionRequest) -> bytes:
        if wanted.unsupported:
            self._refused("failure", f"credentials of type {wanted.unsupported[:32]}: only ACCESS_TOKEN")
            return thingsboard.FAILURE
        try:
            outcome = await self.backends.provision(wanted)
        except Unavailable as error:
            raise Refused(BACKEND_UNAVAILABLE, f"provisioning: {error}") from None
        if outcome.status == registry_pb2.PROVISION_STATUS_SUCCESS:
            log.info("device provisioned", extra={"peer": self.peer, "device_id": outcome.device_id})
            metrics.MESSAGES.labels(Kind.PROVISION_REQUEST.value, "accepted").inc()
        else:
            self._refused(registry_pb2.ProvisionStatus.Name(outcome.status), outcome.detail)
        return thingsboard.answer(outcome)

    def _refused(self, status: str, why: str) -> None:
        log.info("provisioning refused", extra={"peer": self.peer, "status": status, "why": why})
        metrics.MESSAGES.labels(Kind.PROVISION_REQUEST.value, "refused").inc()

    async def subscribe(self, subscribe: mqtt5.SubscribePacket) -> list[mqtt5.Packet]:
        codes = [
            mqtt5.SubAckReasonCode(min(int(f.max_qos), 1))
            if f.pattern == provisioning.RESPONSE_TOPIC
            else mqtt5.SubAckReasonCode.NOT_AUTHORIZED
            for f in subscribe.topic_filters
        ]
        return [mqtt5.SubAckPacket(subscribe.packet_id, codes)]

    def acknowledge(self, publish: mqtt5.PublishPacket, refusal: Refusal | None = None) -> list[mqtt5.Packet]:
        return acknowledgement(publish, self.v5, refusal)
