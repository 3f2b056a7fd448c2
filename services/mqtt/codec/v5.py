"""MQTT 5.0 on the wire: the `mqtt5` library (a sans-io codec in Rust that validates strictly)."""

from __future__ import annotations

import mqtt5

from services.mqtt.codec.framing import Frame
from services.mqtt.domain.refusals import MALFORMED, Refusal, Refused

VERSION = 5


def decode(frame: Frame) -> mqtt5.Packet:
    try:
        packet, _ = mqtt5.read(memoryview(frame.wire()))
    except (ValueError, IndexError) as error:
        raise Refused(MALFORMED, str(error)) from None
    return packet


def encode(packet: mqtt5.Packet) -> bytes:
    return packet.write()


def refuse(refusal: Refusal, detail: str) -> bytes:
    """A CONNACK with the refusal's reason code, or a DISCONNECT once connected."""
    reason = detail[:200]
    if refusal.v3 is not None:
        return mqtt5.ConnAckPacket(reason_code=mqtt5.ConnAckReasonCode(refusal.v5), reason_str=reason).write()
    return mqtt5.DisconnectPacket(
        reason_code=mqtt5.DisconnectReasonCode(refusal.v5), reason_str=reason
    ).write()
