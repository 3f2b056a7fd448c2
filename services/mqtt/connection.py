"""One device's connection: its packets read in order, each publish handed to its use case
while the next is read, and every answer written in the order the packets came (MQTT's rule
for acknowledgements). A refusal closes this connection only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import mqtt5

from services.kit.logs import adopt_request_id
from services.mqtt import metrics
from services.mqtt.backends import Backends, Device
from services.mqtt.codec.framing import read_frame
from services.mqtt.codec.versions import Codec, CodecRefused
from services.mqtt.domain import refusals
from services.mqtt.domain.limits import DeviceBuckets, HostBuckets, TokenBucket
from services.mqtt.domain.presence import DeviceKey
from services.mqtt.domain.refusals import Refused
from services.mqtt.domain.revocations import Connected
from services.mqtt.handshake import Session, connack, handshake
from services.mqtt.provisioning import ProvisionPublisher
from services.mqtt.publishing import Publisher, SessionLimits
from services.mqtt.sessions import Sessions
from services.mqtt.settings import MqttSettings

log = logging.getLogger(__name__)

# How long answers still owed may take once the device has stopped sending.
DRAIN_SECONDS = 10.0
# The device went away, or the server stops reading.
_STOPPED = (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError)

Answer = asyncio.Future[list[mqtt5.Packet]]
# The answers' queue is empty for now (None in it says the device stopped sending).
_NO_ANSWER_YET = object()


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: MqttSettings,
        backends: Backends,
        buckets: DeviceBuckets,
        sessions: Sessions,
        provision_buckets: HostBuckets,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.settings = settings
        self.backends = backends
        self.buckets = buckets
        self.sessions = sessions
        self.provision_buckets = provision_buckets
        self.peer = str(writer.get_extra_info("peername"))
        self.codec: Codec | None = None
        self.device_id = ""
        # Answers in the order of the packets they answer; None once no more will come.
        self._answers: asyncio.Queue[Answer | None] = asyncio.Queue(maxsize=settings.max_inflight)
        self._reading: asyncio.Task[None] | None = None
        self._ending: Refused | None = None
        # Set once the CONNECT is accepted.
        self.connected: Connected | None = None
        self.token = ""
        self._publisher: Publisher | ProvisionPublisher | None = None
        # Updates pushed to the device, waiting for room among the answers.
        self._pushes: set[asyncio.Future[None]] = set()

    async def serve(self) -> None:
        adopt_request_id(None)
        try:
            session = await handshake(self.reader, self.settings, self.backends)
        except Refused as refused:
            await self._refuse(refused)
            return
        except (asyncio.IncompleteReadError, ConnectionError):
            self.writer.close()
            return
        if session.device is None:
            await self._provision(session)
            return
        self.codec, self.device_id, self.token = (
            session.codec,
            session.device.device_id,
            session.connect.username or "",
        )
        device = session.device
        self.connected = Connected(device.tenant_id, device.device_id, device.credential_id)
        metrics.CONNECTS.labels("accepted").inc()
        log.info("device connected", extra=self._about(client_id=session.connect.client_id))
        bucket = self.buckets.acquire(self.device_id)
        version = str(self.codec.version)
        metrics.CONNECTIONS.labels(version).inc()
        self.sessions.held(self, _key(device))
        try:
            await self._write([connack(session, self.settings)])
            publisher = Publisher(
                self.backends,
                device,
                self.codec.is_v5,
                self._limits(),
                attached=lambda machine: self.sessions.held(self, _key(machine)),
                detached=lambda machine: self.sessions.released(self, _key(machine)),
            )
            await self._converse(session, bucket, publisher)
        finally:
            self.sessions.released(self, _key(device))
            metrics.CONNECTIONS.labels(version).dec()
            self.buckets.release(self.device_id)
            log.info("device disconnected", extra=self._about())

    async def _provision(self, session: Session) -> None:
        """A device provisioning itself: its requests, limited per client address."""
        self.codec = session.codec
        metrics.CONNECTS.labels("provisioning").inc()
        log.info("provisioning connected", extra=self._about(client_id=session.connect.client_id))
        host = self.peer_host
        publisher = ProvisionPublisher(self.backends, self.codec.is_v5, self.peer)
        await self._write([connack(session, self.settings)])
        await self._converse(session, self.provision_buckets.of(host), publisher)

    @property
    def peer_host(self) -> str:
        peer = self.writer.get_extra_info("peername")
        return str(peer[0]) if isinstance(peer, tuple) else str(peer)

    def end(self, refused: Refused) -> None:
        """Ends the connection from outside (shutdown, revocation): what the device sent
        before is still answered, then the refusal is said."""
        self._ending = refused
        if self._reading is not None:
            self._reading.cancel()

    async def _converse(
        self, session: Session, bucket: TokenBucket, publisher: Publisher | ProvisionPublisher
    ) -> None:
        self._publisher = publisher
        reading = self._reading = asyncio.create_task(self._read(session, bucket, publisher))
        responding = asyncio.create_task(self._respond())
        if self._ending is not None:
            reading.cancel()
        try:
            await asyncio.wait((reading, responding), return_when=asyncio.FIRST_COMPLETED)
            if not responding.done():
                stopped = reading.cancelled() or isinstance(reading.exception(), _STOPPED)
                if not stopped:
                    reading.result()
                # The device stopped sending: what it sent before is still handled and answered.
                await self._answers.put(None)
                await asyncio.wait_for(responding, DRAIN_SECONDS)
            responding.result()
            if self._ending is not None:
                raise self._ending
        except Refused as refused:
            await self._refuse(refused)
        except (*_STOPPED, TimeoutError) as error:
            log.info("connection lost", extra=self._about(why=repr(error)))
        finally:
            publisher.close()
            self._publisher = None
            for task in (reading, responding, *self._pushes):
                task.cancel()
            await asyncio.gather(reading, responding, return_exceptions=True)
            self._abandon_answers()
            self.writer.close()

    def _abandon_answers(self) -> None:
        """Answers no longer to be written: their use cases run to their end (a QoS 0
        reading is still ingested), and how they end is of no one's concern."""
        while not self._answers.empty():
            if (answer := self._answers.get_nowait()) is not None:
                answer.add_done_callback(_retrieved)

    def attributes_changed(self, device_id: str, after: dict[str, Any]) -> None:
        """Tells a device subscribed to its shared attributes (or those of a machine behind
        it, `device_id`) what changed in them."""
        if isinstance(self._publisher, Publisher) and (
            update := self._publisher.shared_changed(device_id, after)
        ):
            self._push(_ready(update))

    def rpc_requested(self, device_id: str | None, rpc_ids: list[str]) -> None:
        """Delivers server-side calls (all awaiting delivery when `rpc_ids` is empty) of a
        device of this connection (None: of each), if it subscribed to them."""
        if isinstance(self._publisher, Publisher):
            self._push(asyncio.ensure_future(self._publisher.deliver_rpcs(device_id, rpc_ids)))

    def _push(self, packets: Answer) -> None:
        """Writes what the device did not ask for, in turn with the answers it awaits."""
        self._pushes.add(task := asyncio.ensure_future(self._answers.put(packets)))
        task.add_done_callback(self._pushes.discard)

    async def _read(
        self, session: Session, bucket: TokenBucket, publisher: Publisher | ProvisionPublisher
    ) -> None:
        """Reads until DISCONNECT; a refusal of what the device sent stops it."""
        assert self.codec is not None
        keep_alive = session.connect.keep_alive
        idle_seconds = keep_alive * 1.5 if keep_alive else None
        while True:
            try:
                # A deadline on the running task, not a task per frame as wait_for makes.
                async with asyncio.timeout(idle_seconds):
                    frame = await read_frame(self.reader, self.settings.max_packet_bytes)
            except TimeoutError:
                raise Refused(refusals.KEEP_ALIVE_TIMEOUT, f"nothing for {idle_seconds}s") from None
            packet = self.codec.decode(frame)
            if isinstance(packet, mqtt5.DisconnectPacket):
                return
            await self._answers.put(self._answer(packet, publisher, bucket))

    def _answer(
        self, packet: mqtt5.Packet, publisher: Publisher | ProvisionPublisher, bucket: TokenBucket
    ) -> Answer:
        match packet:
            case mqtt5.PublishPacket():
                return self._publish(packet, publisher, bucket)
            case mqtt5.SubscribePacket():
                return asyncio.ensure_future(publisher.subscribe(packet))
            case mqtt5.UnsubscribePacket():
                codes = [mqtt5.UnsubAckReasonCode.SUCCESS] * len(packet.patterns)
                return _ready([mqtt5.UnsubAckPacket(packet.packet_id, codes)])
            case mqtt5.PingReqPacket():
                return _ready([mqtt5.PingRespPacket()])
        raise Refused(refusals.PROTOCOL_ERROR, f"a {type(packet).__name__} from a device")

    def _publish(
        self, publish: mqtt5.PublishPacket, publisher: Publisher | ProvisionPublisher, bucket: TokenBucket
    ) -> Answer:
        """Checks a publish as it is read; its use case then runs while the next is read."""
        if publish.qos == mqtt5.QoS.EXACTLY_ONCE:
            raise Refused(refusals.QOS_NOT_SUPPORTED, "QoS 2: ThingsBoard's device API takes QoS 0 and 1")
        if publish.retain and publisher.v5:
            raise Refused(refusals.RETAIN_NOT_SUPPORTED, "a retained publish: none are kept")
        if not bucket.take(time.monotonic()):
            raise Refused(refusals.RATE_TOO_HIGH, f"over {bucket.rate:g} messages a second")
        where = publisher.destination(publish.topic)
        if where is None:
            return self._publish_elsewhere(publish, publisher)
        return asyncio.ensure_future(publisher.handle(publish, where))

    def _publish_elsewhere(
        self, publish: mqtt5.PublishPacket, publisher: Publisher | ProvisionPublisher
    ) -> Answer:
        """A publish outside the device's own topics: refused by its PUBACK in MQTT 5 at QoS 1,
        and otherwise by closing, since acknowledging would say it was taken."""
        detail = f"a publish to {publish.topic[:128]!r}"
        if not (publisher.v5 and publish.qos == mqtt5.QoS.AT_LEAST_ONCE):
            raise Refused(refusals.NOT_AUTHORIZED, detail)
        log.info("publish refused", extra=self._about(why=detail))
        metrics.MESSAGES.labels("elsewhere", "refused").inc()
        return _ready(publisher.acknowledge(publish, refusals.NOT_AUTHORIZED))

    async def _respond(self) -> None:
        answer: Answer | object | None = await self._answers.get()
        try:
            while isinstance(answer, asyncio.Future):
                packets = list(await answer)
                # Answers already settled go out in the same write: the PUBACKs of the
                # messages one telemetry call carried are settled together.
                answer = self._next_answer()
                while isinstance(answer, asyncio.Future) and _settled_well(answer):
                    packets += answer.result()
                    answer = self._next_answer()
                await self._write(packets)
                if answer is _NO_ANSWER_YET:
                    answer = await self._answers.get()
        finally:
            # One taken from the queue but not awaited is nobody's concern any more.
            if isinstance(answer, asyncio.Future):
                answer.add_done_callback(_retrieved)

    def _next_answer(self) -> Answer | object | None:
        return _NO_ANSWER_YET if self._answers.empty() else self._answers.get_nowait()

    async def _write(self, packets: list[mqtt5.Packet]) -> None:
        assert self.codec is not None
        for packet in packets:
            self.writer.write(self.codec.encode(packet))
        await self.writer.drain()

    async def _refuse(self, refused: Refused) -> None:
        """Says why in the client's protocol where it can, then closes."""
        codec = refused.codec if isinstance(refused, CodecRefused) else self.codec
        metrics.CLOSES.labels(refused.refusal.name).inc()
        if refused.refusal.v3 is not None:
            metrics.CONNECTS.labels(refused.refusal.name).inc()
        log.info("connection refused", extra=self._about(refusal=refused.refusal.name, why=refused.detail))
        if codec is not None:
            with contextlib.suppress(ConnectionError):
                self.writer.write(codec.refuse(refused.refusal, refused.detail))
                await self.writer.drain()
        self.writer.close()

    def _limits(self) -> SessionLimits:
        settings = self.settings
        return SessionLimits(settings.max_packet_bytes, settings.rate_per_second, settings.max_inflight)

    def _about(self, **more: object) -> dict[str, object]:
        return {"peer": self.peer, "device_id": self.device_id, **more}


def _key(device: Device) -> DeviceKey:
    return device.tenant_id, device.device_id


def _settled_well(answer: Answer) -> bool:
    return answer.done() and not answer.cancelled() and answer.exception() is None


def _ready(packets: list[mqtt5.Packet]) -> Answer:
    answer: Answer = asyncio.get_running_loop().create_future()
    answer.set_result(packets)
    return answer


def _retrieved(answer: Answer) -> None:
    if not answer.cancelled():
        answer.exception()
