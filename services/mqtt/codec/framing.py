"""MQTT's framing, the same in 3.1.1 and 5.0: a first byte (type and flags), the remaining
length in one to four bytes, then the body. A frame over the limit is refused from its
header, before its body is read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.mqtt.domain.refusals import MALFORMED, PACKET_TOO_LARGE, Refused

# The packet type of a connection's first packet.
CONNECT = 1


@dataclass(frozen=True)
class Frame:
    first_byte: int
    body: bytes

    @property
    def packet_type(self) -> int:
        return self.first_byte >> 4

    @property
    def flags(self) -> int:
        return self.first_byte & 0x0F

    def wire(self) -> bytes:
        return bytes((self.first_byte,)) + encode_length(len(self.body)) + self.body


def encode_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


async def read_frame(reader: asyncio.StreamReader, max_remaining_length: int) -> Frame:
    """The next frame; IncompleteReadError when the peer closes between or within frames."""
    first_byte = (await reader.readexactly(1))[0]
    length, multiplier = 0, 1
    for _ in range(4):
        digit = (await reader.readexactly(1))[0]
        length += (digit & 0x7F) * multiplier
        if digit < 0x80:
            break
        multiplier *= 128
    else:
        raise Refused(MALFORMED, "a remaining length of more than four bytes")
    if length > max_remaining_length:
        raise Refused(
            PACKET_TOO_LARGE, f"a packet of {length} bytes, over the limit of {max_remaining_length}"
        )
    return Frame(first_byte, await reader.readexactly(length) if length else b"")
