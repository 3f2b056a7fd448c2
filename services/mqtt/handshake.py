"""A connection's first packet: the CONNECT, its device authenticated by its access token, and
the CONNACK that says what this server does and does not do."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import mqtt5

from services.mqtt.backends import Backends, Device, Unavailable
from services.mqtt.codec.framing import read_frame
from services.mqtt.codec.versions import Codec, CodecRefused, codec_of
from services.mqtt.domain import provisioning, refusals
from services.mqtt.domain.refusals import Refused
from services.mqtt.settings import MqttSettings

MAX_CLIENT_ID_LENGTH = 256


@dataclass(frozen=True)
class Session:
    codec: Codec
    connect: mqtt5.ConnectPacket
    # None for a device provisioning itself: it has no token yet.
    device: Device | None


async def handshake(reader: asyncio.StreamReader, settings: MqttSettings, backends: Backends) -> Session:
    """The session of a connection whose CONNECT was accepted. Raises Refused otherwise,
    CodecRefused once the client's protocol version is known."""
    try:
        frame = await asyncio.wait_for(
            read_frame(reader, settings.max_packet_bytes), settings.connect_timeout_seconds
        )
    except TimeoutError:
        raise Refused(
            refusals.CONNECT_TIMEOUT, f"no CONNECT within {settings.connect_timeout_seconds}s"
        ) from None
    codec = codec_of(frame)
    try:
        connect = codec.decode(frame)
        if not isinstance(connect, mqtt5.ConnectPacket):
            raise Refused(refusals.PROTOCOL_ERROR, "a first packet that is not a CONNECT")
        if not connect.client_id and not connect.clean_start and not codec.is_v5:
            raise Refused(refusals.CLIENT_ID_REJECTED, "an empty client id needs a clean session")
        return Session(codec, connect, await _authenticate(connect, backends))
    except Refused as refused:
        raise CodecRefused(refused, codec) from None


async def _authenticate(connect: mqtt5.ConnectPacket, backends: Backends) -> Device | None:
    if len(connect.client_id) > MAX_CLIENT_ID_LENGTH:
        raise Refused(refusals.CLIENT_ID_REJECTED, f"a client id of {len(connect.client_id)} characters")
    if not connect.username:
        raise Refused(refusals.NO_CREDENTIALS, "no user name: a device connects with its access token")
    if connect.username == provisioning.USER_NAME:
        return None
    try:
        device = await backends.authenticate(connect.username)
    except Unavailable as error:
        raise Refused(refusals.REGISTRY_UNAVAILABLE, str(error)) from None
    if device is None:
        raise Refused(refusals.BAD_TOKEN, "an unknown, revoked or expired access token")
    if not device.accepts_data:
        raise Refused(
            refusals.DEVICE_NOT_ALLOWED, f"device {device.device_id} is suspended or decommissioned"
        )
    return device


def connack(session: Session, settings: MqttSettings) -> mqtt5.ConnAckPacket:
    """Success, and in MQTT 5 what this server takes: QoS up to 1, no retained messages, no
    shared subscriptions, packets up to the limit, the in-flight window."""
    return mqtt5.ConnAckPacket(
        assigned_client_id=None if session.connect.client_id else f"gantry-{uuid.uuid4().hex}",
        receive_max=settings.max_inflight,
        max_qos=mqtt5.QoS.AT_LEAST_ONCE,
        retain_available=False,
        max_packet_size=settings.max_packet_bytes,
        subscription_id_available=False,
        shared_subscription_available=False,
        server_keep_alive=None,
    )
