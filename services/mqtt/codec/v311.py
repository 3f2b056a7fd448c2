"""MQTT 3.1.1 on the wire, read into and written from the `mqtt5` library's packet classes:
no maintained Python library reads 3.1.1 without owning the socket, and the format is small
(3.1.1 is 5.0 without properties and reason codes)."""

from __future__ import annotations

import struct

import mqtt5

from services.mqtt.codec.framing import CONNECT, Frame, encode_length
from services.mqtt.domain.refusals import MALFORMED, Refusal, Refused

VERSION = 4

# Packet types (the first byte's high nibble) and the flags their first byte must carry.
PUBLISH, PUBACK, PUBREL, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT = 3, 4, 6, 8, 10, 12, 14
_REQUIRED_FLAGS = {CONNECT: 0, PUBACK: 0, PUBREL: 2, SUBSCRIBE: 2, UNSUBSCRIBE: 2, PINGREQ: 0, DISCONNECT: 0}

_SUBACK_FAILURE = 0x80


class _Body:
    """Reads the fields of a packet's body in order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, count: int) -> bytes:
        if self.offset + count > len(self.data):
            raise Refused(MALFORMED, "a packet shorter than its fields")
        chunk = self.data[self.offset : self.offset + count]
        self.offset += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def uint16(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def binary(self) -> bytes:
        return self.take(self.uint16())

    def text(self) -> str:
        try:
            text = self.binary().decode()
        except UnicodeDecodeError:
            raise Refused(MALFORMED, "a string that is not UTF-8") from None
        if "\x00" in text:
            raise Refused(MALFORMED, "a string with a null character")
        return text

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.offset)

    def done(self) -> bool:
        return self.offset == len(self.data)


def decode(frame: Frame) -> mqtt5.Packet:
    kind = frame.packet_type
    if kind != PUBLISH and _REQUIRED_FLAGS.get(kind, -1) != frame.flags:
        raise Refused(MALFORMED, f"packet type {kind} with flags {frame.flags:#x}")
    body = _Body(frame.body)
    packet = _DECODERS[kind](body, frame.flags)
    if not body.done():
        raise Refused(MALFORMED, f"packet type {kind} longer than its fields")
    return packet


def _connect(body: _Body, _: int) -> mqtt5.ConnectPacket:
    if body.text() != "MQTT" or body.byte() != VERSION:
        raise Refused(MALFORMED, "not an MQTT 3.1.1 CONNECT")
    flags = body.byte()
    if flags & 0x01:
        raise Refused(MALFORMED, "the reserved CONNECT flag is set")
    keep_alive = body.uint16()
    client_id = body.text()
    will = None
    if flags & 0x04:
        topic, message = body.text(), body.binary()
        will = mqtt5.Will(
            topic, payload=message, qos=mqtt5.QoS((flags >> 3) & 0x03), retain=bool(flags & 0x20)
        )
    username = body.text() if flags & 0x80 else None
    password = body.binary() if flags & 0x40 else None
    return mqtt5.ConnectPacket(
        client_id,
        username=username,
        password=password,
        clean_start=bool(flags & 0x02),
        will=will,
        keep_alive=keep_alive,
    )


def _publish(body: _Body, flags: int) -> mqtt5.PublishPacket:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise Refused(MALFORMED, "a PUBLISH of QoS 3")
    topic = body.text()
    packet_id = body.uint16() if qos else None
    return mqtt5.PublishPacket(
        topic,
        body.rest(),
        qos=mqtt5.QoS(qos),
        retain=bool(flags & 0x01),
        packet_id=packet_id,
        duplicate=bool(flags & 0x08),
    )


def _subscribe(body: _Body, _: int) -> mqtt5.SubscribePacket:
    packet_id = body.uint16()
    filters = []
    while not body.done():
        pattern, options = body.text(), body.byte()
        if options > 2:
            raise Refused(MALFORMED, f"a subscription option of {options:#x}")
        filters.append(mqtt5.TopicFilter(pattern, max_qos=mqtt5.QoS(options)))
    if not filters:
        raise Refused(MALFORMED, "a SUBSCRIBE without topic filters")
    return mqtt5.SubscribePacket(packet_id, filters)


def _unsubscribe(body: _Body, _: int) -> mqtt5.UnsubscribePacket:
    packet_id = body.uint16()
    patterns = []
    while not body.done():
        patterns.append(body.text())
    if not patterns:
        raise Refused(MALFORMED, "an UNSUBSCRIBE without topic filters")
    return mqtt5.UnsubscribePacket(packet_id, patterns)


_DECODERS = {
    CONNECT: _connect,
    PUBLISH: _publish,
    PUBACK: lambda body, _: mqtt5.PubAckPacket(body.uint16()),
    PUBREL: lambda body, _: mqtt5.PubRelPacket(body.uint16()),
    SUBSCRIBE: _subscribe,
    UNSUBSCRIBE: _unsubscribe,
    PINGREQ: lambda body, _: mqtt5.PingReqPacket(),
    DISCONNECT: lambda body, _: mqtt5.DisconnectPacket(),
}


def encode(packet: mqtt5.Packet) -> bytes:
    """The packet's bytes; empty for what 3.1.1 cannot say (a server's DISCONNECT)."""
    match packet:
        case mqtt5.ConnAckPacket() if packet.reason_code == mqtt5.ConnAckReasonCode.SUCCESS:
            return _frame(0x20, bytes((int(packet.session_present), 0)))
        case mqtt5.PublishPacket():
            flags = (int(packet.qos) << 1) | int(packet.retain) | (0x08 if packet.duplicate else 0)
            topic = packet.topic.encode()
            packet_id = struct.pack("!H", packet.packet_id) if int(packet.qos) else b""
            return _frame(0x30 | flags, struct.pack("!H", len(topic)) + topic + packet_id + packet.payload)
        case mqtt5.PubAckPacket():
            return _frame(0x40, struct.pack("!H", packet.packet_id))
        case mqtt5.SubAckPacket():
            codes = bytes(int(code) if int(code) <= 2 else _SUBACK_FAILURE for code in packet.reason_codes)
            return _frame(0x90, struct.pack("!H", packet.packet_id) + codes)
        case mqtt5.UnsubAckPacket():
            return _frame(0xB0, struct.pack("!H", packet.packet_id))
        case mqtt5.PingRespPacket():
            return _frame(0xD0, b"")
    raise TypeError(f"a server does not send {type(packet).__name__} in MQTT 3.1.1")


def _frame(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + encode_length(len(body)) + body


def refuse(refusal: Refusal, _: str) -> bytes:
    """A CONNACK with the refusal's return code; nothing once connected: 3.1.1 only closes."""
    return _frame(0x20, bytes((0, refusal.v3))) if refusal.v3 is not None else b""
