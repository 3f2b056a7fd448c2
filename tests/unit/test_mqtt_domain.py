"""The MQTT adapter's domain: ThingsBoard's device topics, payloads and rate limits."""

from __future__ import annotations

import orjson
import pytest

from services.mqtt.domain import payloads, topics
from services.mqtt.domain.attributes import changed_attributes, shared_update
from services.mqtt.domain.limits import DeviceBuckets, TokenBucket
from services.mqtt.domain.revocations import Connected, ends
from services.mqtt.domain.topics import Destination, Kind


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("v1/devices/me/telemetry", Destination(Kind.TELEMETRY)),
        ("v1/devices/me/attributes", Destination(Kind.ATTRIBUTES)),
        ("v1/devices/me/attributes/request/17", Destination(Kind.ATTRIBUTES_REQUEST, "17")),
        ("v1/devices/me/rpc/request/3", Destination(Kind.RPC_REQUEST, "3")),
        ("v1/devices/me/rpc/response/abc1", Destination(Kind.RPC_RESPONSE, "abc1")),
        ("v1/devices/me/telemetry/extra", None),
        ("v1/devices/other/telemetry", None),
        ("v1/devices/me/attributes/request/", None),
        ("v1/devices/me/attributes/request/1/2", None),
        ("v1/devices/me/attributes/request/+", None),
        ("v1/devices/me/attributes/request/" + "9" * 33, None),
        ("v1/devices/me/attributes/response/1", None),
        ("$SYS/broker", None),
        ("", None),
    ],
)
def test_a_device_publishes_only_to_its_own_topics(topic: str, expected: Destination | None) -> None:
    assert topics.destination(topic) == expected


@pytest.mark.parametrize(
    ("topic_filter", "allowed"),
    [
        ("v1/devices/me/attributes", True),
        ("v1/devices/me/attributes/response/+", True),
        ("v1/devices/me/rpc/request/+", True),
        ("v1/devices/me/rpc/response/+", True),
        ("v1/devices/me/attributes/response/42", True),
        ("#", False),
        ("v1/devices/+/attributes", False),
        ("v1/devices/me/#", False),
        ("v1/devices/me/telemetry", False),
        ("v1/devices/me/attributes/response/#", False),
    ],
)
def test_a_device_subscribes_only_to_its_own_topics(topic_filter: str, allowed: bool) -> None:
    assert topics.may_subscribe(topic_filter) is allowed


def test_attribute_requests_take_thingsboards_comma_separated_keys_or_arrays() -> None:
    request = payloads.attributes_request(b'{"clientKeys": "fw, serial,", "sharedKeys": ["target"]}')
    assert request == payloads.AttributesRequest(("fw", "serial"), ("target",))
    assert payloads.attributes_request(b"") == payloads.AttributesRequest((), ())


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[1, 2]",
        b'{"clientKeys": 5}',
        b'{"sharedKeys": [1]}',
        orjson.dumps({"clientKeys": "k" * 129}),
    ],
)
def test_malformed_attribute_requests_are_refused_with_why(payload: bytes) -> None:
    with pytest.raises(payloads.BadPayload):
        payloads.attributes_request(payload)


def test_client_attributes_must_be_one_json_object() -> None:
    assert payloads.json_object(b'{"fw": "1.2"}') == {"fw": "1.2"}
    for payload in (b"[]", b'"text"', b"\xff"):
        with pytest.raises(payloads.BadPayload):
            payloads.json_object(payload)


def test_a_device_rpc_names_its_method() -> None:
    assert payloads.rpc_call(b'{"method": "getSessionLimits", "params": {}}').method == "getSessionLimits"
    with pytest.raises(payloads.BadPayload):
        payloads.rpc_call(b'{"params": {}}')


def test_session_limits_are_said_as_thingsboards_sdk_reads_them() -> None:
    limits = orjson.loads(payloads.session_limits(65536, 20.5, 32))
    assert limits == {
        "maxPayloadSize": 65536,
        "maxInflightMessages": 32,
        "rateLimits": {"messages": "20:1,", "telemetryMessages": "20:1,", "telemetryDataPoints": ""},
    }


def test_a_token_bucket_allows_its_burst_then_its_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(10.4) is False
    assert bucket.take(10.5) is True
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]


def test_a_devices_connections_share_its_bucket_until_the_last_one_closes() -> None:
    buckets = DeviceBuckets(rate=1, burst=1)
    first = buckets.acquire("d1")
    assert buckets.acquire("d1") is first and buckets.acquire("d2") is not first
    buckets.release("d1")
    assert len(buckets) == 2
    buckets.release("d1")
    buckets.release("d2")
    assert len(buckets) == 0


SESSION = Connected("t1", "d1", "c1")


@pytest.mark.parametrize(
    ("event_type", "tenant_id", "data", "why"),
    [
        (
            "credential.revoked",
            "t1",
            {"credential_id": "c1", "device_id": "d1"},
            "its access token was revoked",
        ),
        ("credential.revoked", "t1", {"credential_id": "c2", "device_id": "d1"}, None),
        ("device.state_changed", "t1", {"device_id": "d1", "state": "suspended"}, "the device is suspended"),
        ("device.state_changed", "t1", {"device_id": "d1", "state": "active"}, None),
        (
            "device.decommissioned",
            "t1",
            {"device_id": "d1", "state": "decommissioned"},
            "the device is decommissioned",
        ),
        ("device.state_changed", "t1", {"device_id": "d2", "state": "suspended"}, None),
        ("tenant.updated", "t1", {"status": "suspended"}, "its tenant is suspended"),
        ("tenant.updated", "t1", {"status": "active"}, None),
        ("tenant.updated", "t2", {"status": "suspended"}, None),
    ],
)
def test_registry_events_end_the_sessions_they_revoke(
    event_type: str, tenant_id: str, data: dict, why: str | None
) -> None:
    assert ends(event_type, tenant_id, data, SESSION) == why


def test_shared_attribute_updates_carry_what_changed_and_what_was_removed() -> None:
    before = {"target_rpm": 12000.0, "recipe": "A7", "mode": "auto"}
    assert shared_update(before, {"target_rpm": 15000, "recipe": "A7", "tool": "T3"}) == {
        "target_rpm": 15000,
        "tool": "T3",
        "deleted": ["mode"],
    }
    assert shared_update(before, {"target_rpm": 12000, "recipe": "A7", "mode": "auto"}) is None


def test_only_device_updates_of_attributes_change_them() -> None:
    data = {"device_id": "d1", "changed": ["attributes"], "attributes": {"a": 1}}
    assert changed_attributes("device.updated", data) == ("d1", {"a": 1})
    assert changed_attributes("device.updated", {**data, "changed": ["labels"]}) is None
    assert changed_attributes("device.registered", data) is None
