"""MQTT packets on the wire: framing with its limits, 3.1.1 read and written by the adapter's
own codec, 5.0 by the mqtt5 library, and refusals said in each."""

from __future__ import annotations

import asyncio

import mqtt5
import pytest

from services.mqtt.codec import v5, v311
from services.mqtt.codec.framing import Frame, encode_length, read_frame
from services.mqtt.codec.versions import V5, V311, CodecRefused, codec_of
from services.mqtt.domain import refusals
from services.mqtt.domain.refusals import Refused

# Protocol "MQTT" level 4, flags: user name and clean session, keep-alive 60, client "dev1".
CONNECT_311 = b"\x10\x21\x00\x04MQTT\x04\x82\x00\x3c\x00\x04dev1\x00\x0ftoken-of-device"


def frame_of(data: bytes, limit: int = 1 << 20) -> Frame:
    async def read() -> Frame:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_frame(reader, limit)

    return asyncio.run(read())


@pytest.mark.parametrize("length", [0, 127, 128, 16_383, 16_384, 2_097_152, 268_435_455])
def test_remaining_lengths_take_one_to_four_bytes(length: int) -> None:
    encoded = encode_length(length)
    assert len(encoded) == 1 + (length > 127) + (length > 16_383) + (length > 2_097_151)


def test_a_frame_over_the_limit_is_refused_from_its_header() -> None:
    with pytest.raises(Refused) as refused:
        frame_of(b"\x30" + encode_length(5000), limit=4096)
    assert refused.value.refusal is refusals.PACKET_TOO_LARGE


def test_a_remaining_length_of_five_bytes_is_malformed() -> None:
    with pytest.raises(Refused) as refused:
        frame_of(b"\x30\xff\xff\xff\xff\x01")
    assert refused.value.refusal is refusals.MALFORMED


def test_a_311_connect_is_read_with_its_token_as_user_name() -> None:
    frame = frame_of(CONNECT_311)
    assert codec_of(frame) is V311
    connect = V311.decode(frame)
    assert isinstance(connect, mqtt5.ConnectPacket)
    assert (connect.client_id, connect.username, connect.keep_alive, connect.clean_start) == (
        "dev1",
        "token-of-device",
        60,
        True,
    )


def test_a_50_connect_is_read_by_the_mqtt5_library() -> None:
    frame = frame_of(mqtt5.ConnectPacket("dev2", username="tok", keep_alive=30).write())
    assert codec_of(frame) is V5
    assert V5.decode(frame).username == "tok"


def test_other_protocol_levels_are_refused_in_a_codec_the_client_reads() -> None:
    mqtt31 = frame_of(bytes.fromhex("100c00064d514973647003020000"))
    with pytest.raises(CodecRefused) as refused:
        codec_of(mqtt31)
    assert refused.value.refusal is refusals.UNSUPPORTED_PROTOCOL and refused.value.codec is V311
    assert V311.refuse(refused.value.refusal, "") == b"\x20\x02\x00\x01"


def test_a_first_packet_other_than_connect_is_malformed() -> None:
    with pytest.raises(Refused) as refused:
        codec_of(frame_of(b"\xc0\x00"))
    assert refused.value.refusal is refusals.MALFORMED


def test_311_publishes_subscribes_and_pings_are_read() -> None:
    publish = v311.decode(frame_of(b"\x32\x0e\x00\x03a/b\x00\x07" + b'{"x":1}'))
    assert (publish.topic, publish.qos, publish.packet_id, publish.payload) == ("a/b", 1, 7, b'{"x":1}')
    subscribe = v311.decode(frame_of(b"\x82\x08\x00\x05\x00\x03a/b\x01"))
    assert [(f.pattern, f.max_qos) for f in subscribe.topic_filters] == [("a/b", 1)]
    assert isinstance(v311.decode(frame_of(b"\xc0\x00")), mqtt5.PingReqPacket)


@pytest.mark.parametrize(
    "data",
    [
        b"\x36\x05\x00\x03a/b",  # QoS 3
        b"\x80\x08\x00\x05\x00\x03a/b\x01",  # SUBSCRIBE without its required flags
        b"\x82\x02\x00\x05",  # SUBSCRIBE without filters
        b"\x82\x08\x00\x05\x00\x03a/b\x07",  # a subscription option over 2
        b"\x30\x05\x00\x09a/b",  # a topic longer than the packet
        b"\x30\x05\x00\x03\xff\xfe\xfd",  # a topic that is not UTF-8
        b"\xc0\x01\x00",  # PINGREQ with a body
        b"\xf0\x00",  # AUTH does not exist in 3.1.1
    ],
)
def test_malformed_311_packets_are_refused(data: bytes) -> None:
    with pytest.raises(Refused) as refused:
        v311.decode(frame_of(data))
    assert refused.value.refusal is refusals.MALFORMED


def test_garbage_is_malformed_in_50_too() -> None:
    with pytest.raises(Refused) as refused:
        v5.decode(Frame(0x30, b"\xff\xff\xff"))
    assert refused.value.refusal is refusals.MALFORMED


def test_311_answers_are_written_as_the_standard_says() -> None:
    assert v311.encode(mqtt5.ConnAckPacket()) == b"\x20\x02\x00\x00"
    assert v311.encode(mqtt5.PubAckPacket(9)) == b"\x40\x02\x00\x09"
    granted = [mqtt5.SubAckReasonCode.GRANTED_QOS_AT_LEAST_ONCE, mqtt5.SubAckReasonCode.NOT_AUTHORIZED]
    assert v311.encode(mqtt5.SubAckPacket(3, granted)) == b"\x90\x04\x00\x03\x01\x80"
    assert v311.encode(mqtt5.PublishPacket("t/1", b"{}")) == b"\x30\x07\x00\x03t/1{}"
    assert v311.encode(mqtt5.PingRespPacket()) == b"\xd0\x00"


def test_refusals_are_said_as_thingsboard_says_them() -> None:
    assert V311.refuse(refusals.BAD_TOKEN, "") == b"\x20\x02\x00\x05"
    assert V311.refuse(refusals.NO_CREDENTIALS, "") == b"\x20\x02\x00\x04"
    assert V311.refuse(refusals.RATE_TOO_HIGH, "") == b""
    connack, _ = mqtt5.read(memoryview(V5.refuse(refusals.BAD_TOKEN, "unknown token")))
    assert connack.reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD
    disconnect, _ = mqtt5.read(memoryview(V5.refuse(refusals.RATE_TOO_HIGH, "too fast")))
    assert disconnect.reason_code == mqtt5.DisconnectReasonCode.MESSAGE_RATE_TOO_HIGH
