"""Which registry events end a connected device's session: a revoked credential, a device
that no longer takes data, a suspended tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CREDENTIAL_REVOKED = "credential.revoked"
DEVICE_STATE_CHANGED = "device.state_changed"
DEVICE_DECOMMISSIONED = "device.decommissioned"
TENANT_UPDATED = "tenant.updated"
EVENT_TYPES = (CREDENTIAL_REVOKED, DEVICE_STATE_CHANGED, DEVICE_DECOMMISSIONED, TENANT_UPDATED)

# The registry's device states in which a device's data is taken.
ACCEPTING_STATES = frozenset({"provisioned", "active"})


@dataclass(frozen=True)
class Connected:
    """What a session is: whose device, by which credential."""

    tenant_id: str
    device_id: str
    credential_id: str


def ends(event_type: str, tenant_id: str | None, data: dict[str, Any], session: Connected) -> str | None:
    """Why the event ends `session`, or None when it does not concern it."""
    if event_type == CREDENTIAL_REVOKED and data.get("credential_id") == session.credential_id:
        return "its access token was revoked"
    if (
        event_type in (DEVICE_STATE_CHANGED, DEVICE_DECOMMISSIONED)
        and data.get("device_id") == session.device_id
    ):
        state = data.get("state")
        return None if state in ACCEPTING_STATES else f"the device is {state}"
    if event_type == TENANT_UPDATED and tenant_id == session.tenant_id and data.get("status") != "active":
        return f"its tenant is {data.get('status')}"
    return None


def concerns_device(data: dict[str, Any]) -> str | None:
    """The device whose cached tokens an event makes stale, if it names one."""
    device_id = data.get("device_id")
    return device_id if isinstance(device_id, str) else None
