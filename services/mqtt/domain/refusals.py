"""Every way the adapter refuses a device, and how each is said: a CONNACK return code in
MQTT 3.1.1 (which can say nothing once connected, so the connection is closed), a reason code
in MQTT 5 (CONNACK before, DISCONNECT or PUBACK/SUBACK after)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    # Names the refusal in logs and metrics.
    name: str
    # MQTT 5's reason code.
    v5: int
    # MQTT 3.1.1's CONNACK return code, for refusals of a CONNECT.
    v3: int | None = None


# A CONNECT refused (CONNACK).
UNSUPPORTED_PROTOCOL = Refusal("unsupported_protocol", 0x84, 0x01)
CLIENT_ID_REJECTED = Refusal("client_id_rejected", 0x85, 0x02)
NO_CREDENTIALS = Refusal("no_credentials", 0x86, 0x04)
BAD_TOKEN = Refusal("bad_token", 0x86, 0x05)
DEVICE_NOT_ALLOWED = Refusal("device_not_allowed", 0x87, 0x05)
REGISTRY_UNAVAILABLE = Refusal("registry_unavailable", 0x88, 0x03)

# A connection closed (MQTT 5: DISCONNECT first).
CONNECT_TIMEOUT = Refusal("connect_timeout", 0x8D)
MALFORMED = Refusal("malformed_packet", 0x81)
PROTOCOL_ERROR = Refusal("protocol_error", 0x82)
KEEP_ALIVE_TIMEOUT = Refusal("keep_alive_timeout", 0x8D)
PACKET_TOO_LARGE = Refusal("packet_too_large", 0x95)
RATE_TOO_HIGH = Refusal("message_rate_too_high", 0x96)
RETAIN_NOT_SUPPORTED = Refusal("retain_not_supported", 0x9A)
QOS_NOT_SUPPORTED = Refusal("qos_not_supported", 0x9B)
BACKEND_UNAVAILABLE = Refusal("backend_unavailable", 0x89)
SHUTTING_DOWN = Refusal("server_shutting_down", 0x8B)
# The device's credential was revoked, or the device or its tenant suspended, while connected.
ADMINISTRATIVE_ACTION = Refusal("administrative_action", 0x98)

# A publish or subscription refused (MQTT 5: PUBACK or SUBACK; 3.1.1 closes for a publish).
NOT_AUTHORIZED = Refusal("topic_not_authorized", 0x87)
PAYLOAD_FORMAT_INVALID = Refusal("payload_format_invalid", 0x99)


class Refused(Exception):
    """Ends a connection, or refuses its CONNECT, for `refusal`; `detail` is for the log."""

    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(f"{refusal.name}: {detail}")
        self.refusal = refusal
        self.detail = detail
