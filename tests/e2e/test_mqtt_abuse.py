"""Hostile input to the MQTT adapter: each is refused precisely (MQTT 5's reason codes where the
client speaks 5), and a bystander device's connection goes on undisturbed. An adapter with
small limits of its own runs beside the platform's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import mqtt5
import orjson
import pytest

from services.mqtt.codec.framing import encode_length
from tests.support.client import PartnerClient
from tests.support.mqtt import TELEMETRY, RawClient, adapter, known_device, publish311
from tests.support.platform import OPERATOR_TOKEN, Platform

CONNECT_TIMEOUT_SECONDS = 1.0
MAX_PACKET_BYTES = 1024
RATE_BURST = 5

Reason = mqtt5.DisconnectReasonCode


@pytest.fixture(scope="module")
def client(platform: Platform) -> PartnerClient:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.as_tenant(operator.create_tenant("Hostile Works")["api_key"])


@pytest.fixture(scope="module")
def port(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with adapter(
        platform,
        tmp_path_factory.mktemp("mqtt-limited"),
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        max_packet_bytes=MAX_PACKET_BYTES,
        rate_per_second=RATE_BURST,
        rate_burst=RATE_BURST,
    ) as limited:
        yield limited


@pytest.fixture(scope="module")
def device(platform: Platform, client: PartnerClient) -> dict[str, Any]:
    return known_device(platform, client)


@pytest.fixture
def bystander(port: int, client: PartnerClient) -> Iterator[RawClient]:
    """Another device, connected throughout; checked to be still served afterwards."""
    raw = RawClient(port)
    assert raw.connect5(client.register_device()["access_token"], "bystander").reason_code == 0
    yield raw
    raw.send(mqtt5.PingReqPacket().write())
    assert isinstance(raw.packet5(), mqtt5.PingRespPacket)
    raw.close()


def connected5(port: int, device: dict[str, Any]) -> RawClient:
    raw = RawClient(port)
    assert raw.connect5(device["access_token"]).reason_code == 0
    return raw


def connected311(port: int, device: dict[str, Any]) -> RawClient:
    raw = RawClient(port)
    assert raw.connect311(device["access_token"]) == b"\x20\x02\x00\x00"
    return raw


def disconnected_for(raw: RawClient) -> Reason:
    packet = raw.packet5()
    assert isinstance(packet, mqtt5.DisconnectPacket), packet
    assert raw.closed_by_server()
    return packet.reason_code


@pytest.mark.usefixtures("bystander")
@pytest.mark.parametrize("garbage", [b"\xff\xff\xff\xff\xff\xff", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
def test_garbage_is_closed_without_an_answer(port: int, garbage: bytes) -> None:
    raw = RawClient(port)
    raw.send(garbage)
    assert raw.closed_by_server() and raw.buffer == b""


@pytest.mark.usefixtures("bystander")
def test_a_connect_that_never_comes_is_closed_after_the_timeout(port: int) -> None:
    started = time.monotonic()
    raw = RawClient(port)
    assert raw.closed_by_server() and raw.buffer == b""
    assert CONNECT_TIMEOUT_SECONDS <= time.monotonic() - started < CONNECT_TIMEOUT_SECONDS + 5


@pytest.mark.usefixtures("bystander")
def test_connects_without_a_token_are_refused(port: int) -> None:
    assert RawClient(port).connect311(None) == b"\x20\x02\x00\x04"
    assert RawClient(port).connect5(None).reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD


@pytest.mark.usefixtures("bystander")
def test_packets_over_the_limit_are_refused_from_their_header(port: int, device: dict[str, Any]) -> None:
    raw = connected5(port, device)
    raw.send(mqtt5.PublishPacket(TELEMETRY, b"x" * 2 * MAX_PACKET_BYTES).write())
    assert disconnected_for(raw) == Reason.PACKET_TOO_LARGE
    raw = connected311(port, device)
    # Only the header: the adapter does not wait for a body it will not take.
    raw.send(b"\x30" + encode_length(10 * MAX_PACKET_BYTES))
    assert raw.closed_by_server() and raw.buffer == b""


@pytest.mark.usefixtures("bystander")
def test_a_malformed_remaining_length_is_refused(port: int, device: dict[str, Any]) -> None:
    raw = connected5(port, device)
    raw.send(b"\x30\xff\xff\xff\xff\x01")
    assert disconnected_for(raw) == Reason.MALFORMED_PACKET


@pytest.mark.usefixtures("bystander")
def test_subscriptions_outside_the_devices_topics_are_refused(port: int, device: dict[str, Any]) -> None:
    raw = connected5(port, device)
    filters = [
        mqtt5.TopicFilter("#"),
        mqtt5.TopicFilter("v1/devices/me/attributes", max_qos=mqtt5.QoS.AT_LEAST_ONCE),
    ]
    raw.send(mqtt5.SubscribePacket(7, filters).write())
    suback = raw.packet5()
    assert suback.reason_codes == [
        mqtt5.SubAckReasonCode.NOT_AUTHORIZED,
        mqtt5.SubAckReasonCode.GRANTED_QOS_AT_LEAST_ONCE,
    ]
    raw = connected311(port, device)
    raw.send(b"\x82\x0a\x00\x07\x00\x05other\x01")
    assert raw.read_exactly(5) == b"\x90\x03\x00\x07\x80"


@pytest.mark.usefixtures("bystander")
def test_publishes_outside_the_devices_topics_are_refused(port: int, device: dict[str, Any]) -> None:
    raw = connected5(port, device)
    raw.send(
        mqtt5.PublishPacket(
            "v1/devices/other/telemetry", b"{}", qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=3
        ).write()
    )
    puback = raw.packet5()
    assert (puback.packet_id, puback.reason_code) == (3, mqtt5.PubAckReasonCode.NOT_AUTHORIZED)
    raw.send(mqtt5.PublishPacket("$SYS/anything", b"{}").write())
    assert disconnected_for(raw) == Reason.NOT_AUTHORIZED
    raw = connected311(port, device)
    raw.send(publish311("v1/devices/other/telemetry", b"{}", qos=1))
    assert raw.closed_by_server() and raw.buffer == b""


@pytest.mark.usefixtures("bystander")
def test_a_flood_beyond_the_devices_rate_is_closed(port: int, device: dict[str, Any]) -> None:
    raw = connected5(port, device)
    flood = mqtt5.PublishPacket(TELEMETRY, orjson.dumps({"spindle_temp": 20.0})).write()
    raw.send(flood * (RATE_BURST * 4))
    assert disconnected_for(raw) == Reason.MESSAGE_RATE_TOO_HIGH


@pytest.mark.usefixtures("bystander")
def test_qos_2_and_retained_publishes_are_refused_in_mqtt_5(port: int, device: dict[str, Any]) -> None:
    raw = connected5(port, device)
    raw.send(mqtt5.PublishPacket(TELEMETRY, b"{}", qos=mqtt5.QoS.EXACTLY_ONCE, packet_id=1).write())
    assert disconnected_for(raw) == Reason.QOS_NOT_SUPPORTED
    raw = connected5(port, device)
    raw.send(mqtt5.PublishPacket(TELEMETRY, b"{}", retain=True).write())
    assert disconnected_for(raw) == Reason.RETAIN_NOT_SUPPORTED


@pytest.mark.usefixtures("bystander")
@pytest.mark.parametrize("payload", [b'{"spindle_temp": "hot"}', b"{not json", b'{"no_such_channel": 1}'])
def test_rejected_readings_are_answered_payload_format_invalid(
    port: int, device: dict[str, Any], payload: bytes
) -> None:
    raw = connected5(port, device)
    raw.send(mqtt5.PublishPacket(TELEMETRY, payload, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=9).write())
    puback = raw.packet5()
    assert (puback.packet_id, puback.reason_code) == (9, mqtt5.PubAckReasonCode.PAYLOAD_FORMAT_INVALID)
    raw.send(
        mqtt5.PublishPacket(
            TELEMETRY, b'{"spindle_temp": 20.5}', qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=10
        ).write()
    )
    assert raw.packet5().reason_code == mqtt5.PubAckReasonCode.SUCCESS
    # MQTT 3.1.1 cannot refuse a publish: a refusal that sending again would not change is acknowledged.
    raw = connected311(port, device)
    raw.send(publish311(TELEMETRY, payload, qos=1, packet_id=11))
    assert raw.read_exactly(4) == b"\x40\x02\x00\x0b"
