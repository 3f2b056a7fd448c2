"""What a page of devices needs beside its query: the online windows of its devices'
profile versions, and the positions its cursors hold in either order."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from services.kit.errors import FieldViolation, InvalidArgument
from services.registry.domain import Device, online_window
from services.registry.queries import profiles as profile_queries


class OnlineWindows:
    """How recently a device of each profile version must have been seen to be online.

    Profile versions never change once written, so what is learned is kept.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], timedelta] = {}
        self._lock = threading.Lock()

    def of(self, connection: Connection, found: list[Device]) -> dict[tuple[str, int], timedelta]:
        wanted = {(d.profile_id, d.profile_version) for d in found}
        missing = wanted - self._known.keys()
        if missing:
            loaded = profile_queries.channels_of(connection, missing)
            with self._lock:
                self._known.update({key: online_window(channels) for key, channels in loaded.items()})
        return {key: self._known[key] for key in wanted}


def position_of(device: Device, order: str) -> list[Any]:
    if order == "serial_number":
        return [device.serial_number]
    value = device.created_at.isoformat() if order == "created_at" else getattr(device, order)
    return [value, device.id]


def reversed_order(order_by: str) -> str:
    return order_by[1:] if order_by.startswith("-") else f"-{order_by}"


def from_position(position: list[Any] | None, order: str) -> list[Any] | None:
    if position is None or order != "created_at":
        return position
    try:
        return [datetime.fromisoformat(position[0]), position[1]]
    except (ValueError, TypeError, IndexError):
        raise InvalidArgument([FieldViolation("page.cursor", "not a cursor of this list")]) from None
