"""Work submitted together, run together: a database's group commit for any statement.

While one batch runs, the items that arrive wait; once it ends, the oldest waiting item
runs the next batch, on its own thread, with every item waiting then. A lone item runs
at once, and under load each batch serves many items, which spares the database most of
its per-statement and per-transaction work and the process most of its waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class _Waiter(Generic[Item]):
    __slots__ = ("error", "item", "ran", "woken")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.ran = False
        self.error: BaseException | None = None
        # Set once the item ran, or when its thread is to run the next batch.
        self.woken = threading.Event()


def everything(items: Sequence[object]) -> list[int]:
    return list(range(len(items)))


class Batcher(Generic[Item]):
    def __init__(
        self,
        run: Callable[[list[Item]], None],
        take: Callable[[Sequence[Item]], list[int]] = everything,
    ) -> None:
        """`run` does the work of a batch and leaves each item's answer in the item;
        `take` picks, by position, which of the waiting items (oldest first) go in the
        next batch, and must pick the first."""
        self._run = run
        self._take = take
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[Item]] = []
        self._busy = False

    @property
    def queued(self) -> int:
        """Items waiting for a batch."""
        with self._lock:
            return len(self._waiting)

    def submit(self, item: Item) -> None:
        """Returns once a batch holding `item` ran; raises what that batch's `run` raised."""
        waiter = _Waiter(item)
        with self._lock:
            self._waiting.append(waiter)
            leads, self._busy = not self._busy, True
        if not leads:
            waiter.woken.wait()
        if not waiter.ran:
            self._lead(waiter)
        if waiter.error is not None:
            raise waiter.error

    def _lead(self, waiter: _Waiter[Item]) -> None:
        while not waiter.ran:
            with self._lock:
                chosen = set(self._take([w.item for w in self._waiting]))
                batch = [w for i, w in enumerate(self._waiting) if i in chosen]
                self._waiting = [w for i, w in enumerate(self._waiting) if i not in chosen]
            error = None
            try:
                self._run([w.item for w in batch])
            except BaseException as failure:  # every item of the batch fails as it did
                error = failure
            for ran in batch:
                ran.error, ran.ran = error, True
                ran.woken.set()
        with self._lock:
            if self._waiting:
                self._waiting[0].woken.set()
            else:
                self._busy = False


class _Read(Generic[Key, Value]):
    __slots__ = ("key", "value")

    def __init__(self, key: Key) -> None:
        self.key = key
        self.value: Value | None = None


class Coalescer(Generic[Key, Value]):
    """Concurrent reads by key gathered into one query."""

    def __init__(self, fetch: Callable[[Sequence[Key]], dict[Key, Value]]) -> None:
        """`fetch` answers many keys at once; a key it leaves out is read as None."""
        self._fetch = fetch
        self._batches: Batcher[_Read[Key, Value]] = Batcher(self._read)

    @property
    def queued(self) -> int:
        return self._batches.queued

    def get(self, key: Key) -> Value | None:
        read: _Read[Key, Value] = _Read(key)
        self._batches.submit(read)
        return read.value

    def _read(self, reads: list[_Read[Key, Value]]) -> None:
        found = self._fetch([read.key for read in reads])
        for read in reads:
            read.value = found.get(read.key)
