"""Work submitted together, run together: a database's group commit for any statement.

While one batch runs, the items that arrive wait; once it ends, the next batch takes
every item waiting then. A lone item runs at once, and under load each batch serves many
items, which spares the database most of its per-statement and per-transaction work and
the process most of its waits. `Batcher` serves threads: the oldest waiting item runs
the next batch on its own thread. `Coalescer` serves the coroutines of an event loop,
from a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from services.kit.faults import lost_connection

log = logging.getLogger(__name__)

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


class Coalescer(Generic[Key, Value]):
    """Concurrent reads by key from coroutines, gathered into one query on a thread of the
    coalescer's own: an event loop never waits for the database, and the reads that
    arrive while a query runs go together in the next.

    Under load, shown by a query that answered more than `CROWD` reads, the thread goes on
    gathering a query's reads while they keep arriving within `gather_seconds` of each
    other, up to `MAX_READS`: fewer and larger queries, each read waiting at most that
    much longer. A lone read, or a few, never wait.
    """

    CROWD = 4
    MAX_READS = 256

    def __init__(
        self,
        fetch: Callable[[Sequence[Key]], dict[Key, Value]],
        name: str = "coalescer",
        gather_seconds: float = 0.0,
    ) -> None:
        """`fetch` answers many keys at once; a key it leaves out is read as None."""
        self._fetch = fetch
        self._gather_seconds = gather_seconds
        self._requests: queue.SimpleQueue[_Read[Key, Value] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._starting = threading.Lock()
        self._closed = False

    @property
    def queued(self) -> int:
        """Reads waiting for the next query."""
        return self._requests.qsize()

    async def get(self, key: Key) -> Value | None:
        if self._closed:
            raise RuntimeError("the coalescer is closed")
        if self._thread.ident is None:
            with self._starting:
                if self._thread.ident is None:
                    self._thread.start()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Value | None] = loop.create_future()
        self._requests.put(_Read(key, loop, answer))
        return await answer

    def close(self, timeout: float = 10.0) -> None:
        """Answers the reads already asked for, then stops the thread."""
        self._closed = True
        if self._thread.ident is not None:
            self._requests.put(None)
            self._thread.join(timeout)

    def _fetch_once_more_if_lost(self, keys: list[Key]) -> dict[Key, Value]:
        """The answers of `keys`; a query that met a connection the database had dropped
        (a restart) runs once more, on the connections that replaced it."""
        try:
            return self._fetch(keys)
        except Exception as error:
            if not lost_connection(error):
                raise
            log.warning("database connection lost; reading again", extra={"error": str(error)})
            return self._fetch(keys)

    def _serve(self) -> None:
        crowded = False
        while True:
            batch = self._take(self._gather_seconds if crowded else 0.0)
            reads = [read for read in batch if read is not None]
            if reads:
                self._answer(reads)
            if len(reads) < len(batch):  # closed
                return
            crowded = len(reads) > self.CROWD

    def _take(self, gather_seconds: float) -> list[_Read[Key, Value] | None]:
        """The next reads to answer: those waiting, and with `gather_seconds`, those that
        go on arriving within that long of each other."""
        batch = [self._requests.get()]
        with contextlib.suppress(queue.Empty):
            while len(batch) < self.MAX_READS and batch[-1] is not None:
                if gather_seconds:
                    batch.append(self._requests.get(timeout=gather_seconds))
                else:
                    batch.append(self._requests.get_nowait())
        return batch

    def _answer(self, reads: list[_Read[Key, Value]]) -> None:
        try:
            found, error = self._fetch_once_more_if_lost([read.key for read in reads]), None
        except Exception as failure:  # every read of the batch fails as the query did
            found, error = {}, failure
        for loop, answered in itertools.groupby(reads, key=lambda read: read.loop):
            # A loop closed meanwhile has no one left waiting for its answers.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, list(answered), found, error)


class _Read(Generic[Key, Value]):
    __slots__ = ("answer", "key", "loop")

    def __init__(
        self, key: Key, loop: asyncio.AbstractEventLoop, answer: asyncio.Future[Value | None]
    ) -> None:
        self.key = key
        self.loop = loop
        self.answer = answer


def _settle(reads: list[_Read[Key, Value]], found: dict[Key, Value], error: Exception | None) -> None:
    for read in reads:
        if read.answer.done():  # its caller gave up
            continue
        if error is not None:
            read.answer.set_exception(error)
        else:
            read.answer.set_result(found.get(read.key))
