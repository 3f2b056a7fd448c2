"""ThingsBoard's device provisioning over MQTT: the user name a device connects with before
it has a token, and the only topics that connection may use."""

from __future__ import annotations

USER_NAME = "provision"
REQUEST_TOPIC = "/provision/request"
RESPONSE_TOPIC = "/provision/response"
