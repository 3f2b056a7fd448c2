"""ThingsBoard's shared-attribute updates: what a subscribed device is told when its tenant
changes the attributes it shares with it."""

from __future__ import annotations

from typing import Any

DEVICE_UPDATED = "device.updated"
# The field of a `device.updated` event's `changed` that holds the shared attributes.
ATTRIBUTES_FIELD = "attributes"


def shared_update(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """The keys whose values changed or were added, with their values, and the removed keys
    under `deleted`, as ThingsBoard sends them; None when nothing changed."""
    update: dict[str, Any] = {
        key: value for key, value in after.items() if key not in before or before[key] != value
    }
    deleted = sorted(key for key in before if key not in after)
    if deleted:
        update["deleted"] = deleted
    return update or None


def changed_attributes(event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The device and its shared attributes after an event that changed them."""
    if event_type != DEVICE_UPDATED or ATTRIBUTES_FIELD not in data.get("changed", ()):
        return None
    attributes = data.get(ATTRIBUTES_FIELD)
    device_id = data.get("device_id")
    if not isinstance(device_id, str) or not isinstance(attributes, dict):
        return None
    return device_id, attributes
