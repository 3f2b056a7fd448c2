"""Concurrent reads gathered into one query.

While one batch's query runs, the reads that arrive wait and go together in the next
batch, led by the first of them: a lone read runs at once, and under load each query
serves many reads, which spares the database most of its per-statement work and the
process most of its waits (as a database's group commit does for writes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class _Read(Generic[Key, Value]):
    __slots__ = ("done", "error", "key", "leads", "value")

    def __init__(self, key: Key) -> None:
        self.key = key
        self.done = threading.Event()
        self.leads = False
        self.value: Value | None = None
        self.error: BaseException | None = None


class Coalescer(Generic[Key, Value]):
    def __init__(self, fetch: Callable[[Sequence[Key]], dict[Key, Value]]) -> None:
        """`fetch` answers many keys at once; a key it leaves out is read as None."""
        self._fetch = fetch
        self._lock = threading.Lock()
        self._waiting: list[_Read[Key, Value]] = []
        self._busy = False

    @property
    def queued(self) -> int:
        """Reads waiting for the next batch."""
        with self._lock:
            return len(self._waiting)

    def get(self, key: Key) -> Value | None:
        read: _Read[Key, Value] = _Read(key)
        with self._lock:
            self._waiting.append(read)
            read.leads = not self._busy
            self._busy = True
        if not read.leads:
            read.done.wait()
        if read.leads:
            self._run_batch()
        if read.error is not None:
            raise read.error
        return read.value

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            found = self._fetch([read.key for read in batch])
        except BaseException as error:  # every read of the batch fails as the query did
            found = {}
            for read in batch:
                read.error = error
        for read in batch:
            read.value = found.get(read.key)
            read.leads = False
            read.done.set()
        with self._lock:
            if self._waiting:
                # The next batch is led by its first read, on its own thread.
                self._waiting[0].leads = True
                self._waiting[0].done.set()
            else:
                self._busy = False
