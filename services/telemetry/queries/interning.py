"""Device numbers and channel sets: made once, never changed, so kept in memory once read."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Connection, select

from services.kit.db import insert_ignoring_duplicates
from services.telemetry.packing import ChannelSet, digest
from services.telemetry.storage import channel_sets, device_numbers


def device_number(connection: Connection, device_id: str) -> int | None:
    """The device's number, None while no reading of it was stored."""
    query = select(device_numbers.c.number).where(device_numbers.c.device_id == uuid.UUID(device_id))
    return connection.execute(query).scalar()


class Interned:
    """The numbers of devices and the ids of channel sets known so far, read or made on
    demand in the caller's transaction and remembered once the caller says it committed."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._set_ids: dict[ChannelSet, int] = {}
        self._sets: dict[int, ChannelSet] = {}

    def device_numbers(self, connection: Connection, device_ids: Iterable[str]) -> dict[str, int]:
        """The number of each device, given to those without."""
        wanted = set(device_ids)
        found = {device: self._numbers[device] for device in wanted & self._numbers.keys()}
        if len(found) < len(wanted):
            ids = [uuid.UUID(device) for device in sorted(wanted - found.keys())]
            insert_ignoring_duplicates(connection, device_numbers, [{"device_id": i} for i in ids])
            query = select(device_numbers.c.device_id, device_numbers.c.number).where(
                device_numbers.c.device_id.in_(ids)
            )
            found |= {str(device): number for device, number in connection.execute(query)}
        return found

    def set_ids(self, connection: Connection, sets: Iterable[ChannelSet]) -> dict[ChannelSet, int]:
        """The id of each channel set, interned when new."""
        wanted = set(sets)
        found = {s: self._set_ids[s] for s in wanted & self._set_ids.keys()}
        missing = {digest(s): s for s in wanted - found.keys()}
        if missing:
            rows = [{"digest": d, "channels": s, "size": len(s)} for d, s in sorted(missing.items())]
            insert_ignoring_duplicates(connection, channel_sets, rows)
            query = select(channel_sets.c.digest, channel_sets.c.id).where(channel_sets.c.digest.in_(missing))
            found |= {missing[set_digest]: set_id for set_digest, set_id in connection.execute(query)}
        return found

    def remember(self, numbers: dict[str, int], set_ids: dict[ChannelSet, int]) -> None:
        """Keeps what a committed transaction read or made."""
        self._numbers |= numbers
        for channel_set, set_id in set_ids.items():
            self._set_ids[channel_set] = set_id
            self._sets[set_id] = channel_set

    def sets(self, connection: Connection, ids: Iterable[int]) -> dict[int, ChannelSet]:
        """The channel set of each id, of rows read."""
        wanted = set(ids)
        missing = wanted - self._sets.keys()
        if missing:
            query = select(channel_sets.c.id, channel_sets.c.channels).where(channel_sets.c.id.in_(missing))
            read = {
                i: tuple((channel, kind) for channel, kind in channels)
                for i, channels in connection.execute(query)
            }
            self.remember({}, {channel_set: set_id for set_id, channel_set in read.items()})
        return {i: self._sets[i] for i in wanted}
