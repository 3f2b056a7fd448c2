"""ThingsBoard's device topics: what a device may publish to and subscribe to, and nothing else."""

from __future__ import annotations

import enum
from dataclasses import dataclass

TELEMETRY = "v1/devices/me/telemetry"
ATTRIBUTES = "v1/devices/me/attributes"
ATTRIBUTES_REQUEST = "v1/devices/me/attributes/request/"
ATTRIBUTES_RESPONSE = "v1/devices/me/attributes/response/"
RPC_REQUEST = "v1/devices/me/rpc/request/"
RPC_RESPONSE = "v1/devices/me/rpc/response/"
# ThingsBoard's gateway API: an edge gateway device speaks for the machines behind it.
GATEWAY_CONNECT = "v1/gateway/connect"
GATEWAY_DISCONNECT = "v1/gateway/disconnect"
GATEWAY_TELEMETRY = "v1/gateway/telemetry"
GATEWAY_ATTRIBUTES = "v1/gateway/attributes"
GATEWAY_ATTRIBUTES_REQUEST = "v1/gateway/attributes/request"
GATEWAY_ATTRIBUTES_RESPONSE = "v1/gateway/attributes/response"
GATEWAY_RPC = "v1/gateway/rpc"

# Request ids are echoed into the response topic: bounded, so a topic stays short.
MAX_REQUEST_ID_LENGTH = 32

# The filters a device may subscribe to: its own attribute updates and the answers to its
# requests (ThingsBoard's SDK subscribes to all four as it connects).
OWN_FILTERS = frozenset(
    {
        ATTRIBUTES,
        ATTRIBUTES_RESPONSE + "+",
        RPC_REQUEST + "+",
        RPC_RESPONSE + "+",
        # ThingsBoard's gateway SDK subscribes to these as it connects.
        GATEWAY_ATTRIBUTES,
        GATEWAY_ATTRIBUTES_RESPONSE,
        GATEWAY_RPC,
    }
)


class Kind(enum.Enum):
    TELEMETRY = "telemetry"
    ATTRIBUTES = "attributes"
    ATTRIBUTES_REQUEST = "attributes_request"
    RPC_REQUEST = "rpc_request"
    RPC_RESPONSE = "rpc_response"
    GATEWAY_CONNECT = "gateway_connect"
    GATEWAY_DISCONNECT = "gateway_disconnect"
    GATEWAY_TELEMETRY = "gateway_telemetry"
    GATEWAY_ATTRIBUTES = "gateway_attributes"
    GATEWAY_ATTRIBUTES_REQUEST = "gateway_attributes_request"
    GATEWAY_RPC = "gateway_rpc"
    PROVISION_REQUEST = "provision_request"


@dataclass(frozen=True)
class Destination:
    """Where a device's publish goes; `request_id` for the topics that carry one."""

    kind: Kind
    request_id: str = ""


_EXACT = {
    TELEMETRY: Kind.TELEMETRY,
    ATTRIBUTES: Kind.ATTRIBUTES,
    GATEWAY_CONNECT: Kind.GATEWAY_CONNECT,
    GATEWAY_DISCONNECT: Kind.GATEWAY_DISCONNECT,
    GATEWAY_TELEMETRY: Kind.GATEWAY_TELEMETRY,
    GATEWAY_ATTRIBUTES: Kind.GATEWAY_ATTRIBUTES,
    GATEWAY_ATTRIBUTES_REQUEST: Kind.GATEWAY_ATTRIBUTES_REQUEST,
    GATEWAY_RPC: Kind.GATEWAY_RPC,
}
GATEWAY_KINDS = frozenset(kind for topic, kind in _EXACT.items() if topic.startswith("v1/gateway/"))

_WITH_ID = (
    (ATTRIBUTES_REQUEST, Kind.ATTRIBUTES_REQUEST),
    (RPC_REQUEST, Kind.RPC_REQUEST),
    (RPC_RESPONSE, Kind.RPC_RESPONSE),
)


def destination(topic: str) -> Destination | None:
    """The destination of a publish to `topic`; None for a topic that is not the device's."""
    if exact := _EXACT.get(topic):
        return Destination(exact)
    for prefix, kind in _WITH_ID:
        if topic.startswith(prefix):
            request_id = topic[len(prefix) :]
            return Destination(kind, request_id) if _is_request_id(request_id) else None
    return None


def may_subscribe(topic_filter: str) -> bool:
    """Whether a device may subscribe to `topic_filter`: its own topics, or one response."""
    if topic_filter in OWN_FILTERS:
        return True
    for prefix in (ATTRIBUTES_RESPONSE, RPC_RESPONSE, RPC_REQUEST):
        if topic_filter.startswith(prefix) and _is_request_id(topic_filter[len(prefix) :]):
            return True
    return False


def takes_rpc(topic_filter: str) -> bool:
    """Whether a subscription to `topic_filter` receives server-side RPC."""
    return topic_filter == RPC_REQUEST + "+"


def rpc_request(request_id: str) -> str:
    return RPC_REQUEST + request_id


def attributes_response(request_id: str) -> str:
    return ATTRIBUTES_RESPONSE + request_id


def rpc_response(request_id: str) -> str:
    return RPC_RESPONSE + request_id


def _is_request_id(text: str) -> bool:
    # No wildcards, no levels: an id names one request.
    return 0 < len(text) <= MAX_REQUEST_ID_LENGTH and text.isascii() and text.isalnum()
