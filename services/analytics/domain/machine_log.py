"""A machine's readings as its tracker took them, so that a late one can take its place.

A tracker takes readings in time order (timeline.py). A reading older than its machine's
newest one, such as an edge gateway's backlog sent after an outage, belongs before
readings already taken. Its periods are recomputed by replaying the machine's readings
from before it twice, without it and with it in its place: the periods gain what the
second replay makes less what the first makes, and the two agree up to the late reading.

So each machine keeps a log of the readings its tracker took, reduced to the channels
its model reads, in records of at most `RECORD_ENTRIES` readings or `RECORD_MS` of time.
A record begins with the tracker as it stood before the record's first reading: a replay
starts at the last record begun before the late reading. An entry is a reading's time
and its model's channels, or None when they equal the entry's before it in the record:
a machine sending the same state and count second after second costs a timestamp per
reading. Every reading is kept, not only changes, because a late reading's state lasts
until the next reading, whatever that one says.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.analytics.domain.timeline import (
    LateReading,
    MachineConfig,
    MachineTracker,
    Timeline,
    non_finite,
)
from services.kit.batches import Scalar

RECORD_ENTRIES = 64
RECORD_MS = 60_000

Values = dict[str, Scalar]
Entry = tuple[int, Values | None]
Reading = tuple[int, Mapping[str, Scalar]]


@dataclass(frozen=True, slots=True)
class LogRecord:
    # The tracker before the first entry (`MachineTracker.to_list`); None before any reading.
    start: list[Any] | None
    entries: tuple[Entry, ...]

    @property
    def first_ts(self) -> int:
        return self.entries[0][0]

    @property
    def last_ts(self) -> int:
        return self.entries[-1][0]

    def readings(self) -> Iterator[tuple[int, Values]]:
        values: Values = {}
        for ts_ms, kept in self.entries:
            if kept is not None:
                values = kept
            yield ts_ms, values

    def encode(self) -> bytes:
        return zlib.compress(orjson.dumps([self.start, self.entries]))

    @classmethod
    def decode(cls, data: bytes) -> LogRecord:
        start, entries = orjson.loads(zlib.decompress(data))
        return cls(start, tuple((ts_ms, kept) for ts_ms, kept in entries))


@dataclass(slots=True)
class RecordedMachine:
    """A tracker, and the log of what it took: records closed since the caller last
    took them, and the open record."""

    tracker: MachineTracker
    # The number the open record will be written as: a machine's records count up.
    seq: int = 0
    start: list[Any] | None = None
    entries: list[Entry] = field(default_factory=list)
    # The values of the open record's last entry.
    values: Values = field(default_factory=dict)
    closed: list[tuple[int, LogRecord]] = field(default_factory=list)

    def feed(
        self, ts_ms: int, values: Mapping[str, Scalar], attributes: Mapping[str, Any], into: Timeline
    ) -> None:
        """Feeds the tracker one reading no older than its last, and logs it."""
        tracker = self.tracker
        if tracker.is_late(ts_ms):
            raise LateReading(f"reading at {ts_ms} after one at {tracker.last_ts}")
        kept = _kept(tracker.config, values)
        if not self.entries:
            self.start = None if tracker.last_ts is None else tracker.to_list()
            self.entries.append((ts_ms, kept))
        else:
            self.entries.append((ts_ms, None if kept == self.values else kept))
        self.values = kept
        tracker.feed(ts_ms, kept, attributes, into)
        if len(self.entries) >= RECORD_ENTRIES or ts_ms - self.entries[0][0] >= RECORD_MS:
            self._close()

    def open_record(self) -> LogRecord | None:
        return LogRecord(self.start, tuple(self.entries)) if self.entries else None

    def take_closed(self) -> list[tuple[int, LogRecord]]:
        closed, self.closed = self.closed, []
        return closed

    def to_bytes(self) -> bytes:
        return orjson.dumps([self.tracker.to_list(), self.seq, self.start, self.entries, self.values])

    @classmethod
    def from_bytes(cls, config: MachineConfig, data: bytes) -> RecordedMachine:
        saved = orjson.loads(data)
        if len(saved) != 5:
            # A tracker saved before machines kept logs: its log starts now.
            return cls(MachineTracker.from_list(config, saved))
        tracker, seq, start, entries, values = saved
        return cls(MachineTracker.from_list(config, tracker), seq, start, [tuple(e) for e in entries], values)

    def _close(self) -> None:
        self.closed.append((self.seq, LogRecord(self.start, tuple(self.entries))))
        self.seq += 1
        self.entries = []


@dataclass(frozen=True, slots=True)
class Recomputed:
    # What the logged readings make from the base record on: already in the periods.
    before: Timeline
    # What they make with the late readings in their places.
    after: Timeline
    # The tracker after them all; its log from the base record on, rewritten.
    machine: RecordedMachine


def recompute(
    config: MachineConfig,
    base_seq: int,
    records: Sequence[LogRecord],
    late: Iterable[Reading],
    attributes: Mapping[str, Any],
) -> Recomputed:
    """Puts `late` readings in their places among the logged ones: `records` are the
    machine's log from the record numbered `base_seq`, begun before the earliest late
    reading (or the machine's first), to its open record."""
    logged = [reading for record in records for reading in record.readings()]
    start = records[0].start
    before, after = Timeline(), Timeline()
    _replayed(config, start, base_seq, logged, attributes, before)
    machine = _replayed(config, start, base_seq, _merged(config, logged, late), attributes, after)
    return Recomputed(before, after, machine)


def base_of(records: Sequence[LogRecord], earliest_ms: int) -> int | None:
    """The index of the record a replay for a reading at `earliest_ms` starts from: the
    last begun before it, or the first if it is the machine's first; None when the log
    does not reach back so far."""
    begun = [i for i, record in enumerate(records) if record.first_ts < earliest_ms]
    if begun:
        return begun[-1]
    return 0 if records and records[0].start is None else None


def _replayed(
    config: MachineConfig,
    start: list[Any] | None,
    seq: int,
    readings: Iterable[Reading],
    attributes: Mapping[str, Any],
    into: Timeline,
) -> RecordedMachine:
    tracker = MachineTracker(config) if start is None else MachineTracker.from_list(config, start)
    machine = RecordedMachine(tracker, seq)
    for ts_ms, values in readings:
        machine.feed(ts_ms, values, attributes, into)
    tracker.settle(into)
    return machine


def _merged(
    config: MachineConfig, logged: list[tuple[int, Values]], late: Iterable[Reading]
) -> Iterator[Reading]:
    """The logged readings with the late ones in time order, a late one after a logged one
    of its instant; one the log holds already (sent twice) is left out."""
    instants: dict[int, list[Values]] = {}
    for ts_ms, values in sorted(late, key=lambda reading: reading[0]):
        instants.setdefault(ts_ms, [])
        kept = _kept(config, values)
        if kept not in instants[ts_ms]:
            instants[ts_ms].append(kept)
    for ts_ms, values in logged:
        if ts_ms in instants and values in instants[ts_ms]:
            instants[ts_ms].remove(values)
    fresh = [(ts_ms, kept) for ts_ms, held in instants.items() for kept in held]
    tagged = heapq.merge(
        ((reading[0], 0, i) for i, reading in enumerate(logged)),
        ((reading[0], 1, i) for i, reading in enumerate(fresh)),
    )
    for _, source, index in tagged:
        yield logged[index] if source == 0 else fresh[index]


def _kept(config: MachineConfig, values: Mapping[str, Scalar]) -> Values:
    """A reading's values of the model's channels; a NaN changes nothing for a tracker,
    and would not survive orjson."""
    return {c: values[c] for c in config.channels if c in values and not non_finite(values[c])}
