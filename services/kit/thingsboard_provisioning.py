"""ThingsBoard's device provisioning request and its answers, as its MQTT and HTTP APIs
word them (firmware compares them byte for byte): shared by the MQTT adapter and the gateway."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from gantry.v1 import registry_pb2

ACCESS_TOKEN = "ACCESS_TOKEN"
MAX_FIELD_LENGTH = 256
_FIELDS = ("deviceName", "provisionDeviceKey", "provisionDeviceSecret", "credentialsType", "token")

NOT_FOUND = orjson.dumps({"errorMsg": "Provision data was not found!", "status": "NOT_FOUND"})
FAILURE = orjson.dumps({"errorMsg": "Failed to provision device!", "status": "FAILURE"})


class BadRequest(ValueError):
    """A body that is not a provisioning request; the message says why."""


@dataclass(frozen=True)
class ProvisionRequest:
    device_name: str
    key: str
    secret: str
    # The access token the device chose, or empty for a new one.
    token: str
    # Credentials other than an access token, which are not offered: answered FAILURE.
    unsupported: str = ""

    def message(self) -> registry_pb2.ProvisionDeviceRequest:
        return registry_pb2.ProvisionDeviceRequest(
            device_name=self.device_name,
            provision_key=self.key,
            provision_secret=self.secret,
            access_token=self.token,
        )


def request(body: bytes) -> ProvisionRequest:
    """`{"deviceName", "provisionDeviceKey", "provisionDeviceSecret"}`, with ThingsBoard's
    optional `"credentialsType": "ACCESS_TOKEN", "token"`; other fields are ignored."""
    try:
        document = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadRequest("expected a JSON object")
    fields = {name: document.get(name, "") for name in _FIELDS}
    for name, value in fields.items():
        if not isinstance(value, str) or len(value) > MAX_FIELD_LENGTH:
            raise BadRequest(f"{name}: a string of at most {MAX_FIELD_LENGTH} characters")
    kind = fields["credentialsType"]
    return ProvisionRequest(
        fields["deviceName"],
        fields["provisionDeviceKey"],
        fields["provisionDeviceSecret"],
        fields["token"] if kind == ACCESS_TOKEN else "",
        "" if kind in ("", ACCESS_TOKEN) else kind,
    )


def answer(outcome: registry_pb2.ProvisionDeviceResponse) -> bytes:
    """The registry's outcome as ThingsBoard answers it."""
    if outcome.status == registry_pb2.PROVISION_STATUS_SUCCESS:
        return orjson.dumps(
            {"credentialsType": ACCESS_TOKEN, "credentialsValue": outcome.access_token, "status": "SUCCESS"}
        )
    return NOT_FOUND if outcome.status == registry_pb2.PROVISION_STATUS_NOT_FOUND else FAILURE
