"""Which codec a connection speaks, chosen by the protocol level of its CONNECT."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mqtt5

from services.mqtt.codec import v5, v311
from services.mqtt.codec.framing import CONNECT, Frame
from services.mqtt.domain.refusals import MALFORMED, UNSUPPORTED_PROTOCOL, Refusal, Refused


@dataclass(frozen=True)
class Codec:
    version: int
    decode: Callable[[Frame], mqtt5.Packet]
    encode: Callable[[mqtt5.Packet], bytes]
    # The bytes that say a refusal before closing (a reason for the log as the second argument).
    refuse: Callable[[Refusal, str], bytes]

    @property
    def is_v5(self) -> bool:
        return self.version == v5.VERSION


V311 = Codec(v311.VERSION, v311.decode, v311.encode, v311.refuse)
V5 = Codec(v5.VERSION, v5.decode, v5.encode, v5.refuse)


class CodecRefused(Refused):
    """A refusal once it is known which codec the client reads, to be said in it."""

    def __init__(self, refused: Refused, codec: Codec) -> None:
        super().__init__(refused.refusal, refused.detail)
        self.codec = codec


def codec_of(frame: Frame) -> Codec:
    """The codec of a connection whose first packet is `frame`, which must be a CONNECT."""
    if frame.packet_type != CONNECT:
        raise Refused(MALFORMED, f"packet type {frame.packet_type} before CONNECT")
    name_length = int.from_bytes(frame.body[:2], "big")
    if len(frame.body) < name_length + 3:
        raise Refused(MALFORMED, "a CONNECT shorter than its protocol name and level")
    level = frame.body[2 + name_length]
    if level == v311.VERSION:
        return V311
    if level == v5.VERSION:
        return V5
    unsupported = Refused(UNSUPPORTED_PROTOCOL, f"protocol level {level}")
    raise CodecRefused(unsupported, V5 if level > v5.VERSION else V311)
