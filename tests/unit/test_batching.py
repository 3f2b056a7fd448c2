"""Work submitted together runs together: batches form while one runs, a lone item runs
at once, a failed batch fails each of its items, and items left out wait for the next;
reads from coroutines gather the same way without holding up their event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.kit.batching import Batcher, Coalescer
from tests.support.waiting import eventually

WAIT = 10.0


class Store:
    """A fetch whose first query holds until released, recording every batch."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()
        self.fail_on = fail_on

    def fetch(self, keys: Sequence[int]) -> dict[int, str]:
        self.batches.append(list(keys))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release_first.wait(WAIT)
        if self.fail_on in keys:
            raise RuntimeError("database gone")
        return {key: f"device {key}" for key in keys if key >= 0}


def run_reads(
    store: Store, body: Callable[[Coalescer[int, str]], Awaitable[None]], gather_seconds: float = 0.0
) -> None:
    """Runs `body` on an event loop with a coalescer of `store`'s reads, closed afterwards."""
    reads: Coalescer[int, str] = Coalescer(store.fetch, "test-reads", gather_seconds)
    try:
        asyncio.run(body(reads))
    finally:
        store.release_first.set()
        reads.close()
    assert not [thread for thread in threading.enumerate() if thread.name == "test-reads"]


async def one_turn() -> None:
    """Lets every task made so far run to its first wait: one turn of the event loop."""
    await asyncio.sleep(0)


def test_a_lone_read_runs_at_once_and_a_missing_key_is_none() -> None:
    store = Store()
    store.release_first.set()

    async def read(reads: Coalescer[int, str]) -> None:
        assert await reads.get(3) == "device 3"
        assert await reads.get(-1) is None

    run_reads(store, read)
    assert store.batches == [[3], [-1]]


async def first_query_held(reads: Coalescer[int, str], store: Store) -> asyncio.Task[str | None]:
    first = asyncio.ensure_future(reads.get(0))
    assert await asyncio.to_thread(store.first_started.wait, WAIT)
    return first


def test_reads_arriving_during_a_query_go_together_in_the_next() -> None:
    store = Store()

    async def read(reads: Coalescer[int, str]) -> None:
        first = await first_query_held(reads, store)
        queued = [asyncio.ensure_future(reads.get(key)) for key in range(1, 8)]
        await one_turn()
        assert reads.queued == 7
        store.release_first.set()
        assert await asyncio.wait_for(first, WAIT) == "device 0"
        answers = await asyncio.wait_for(asyncio.gather(*queued), WAIT)
        assert answers == [f"device {key}" for key in range(1, 8)]

    run_reads(store, read)
    assert store.batches == [[0], list(range(1, 8))]


def test_a_failed_query_fails_its_batch_and_the_next_batch_still_runs() -> None:
    store = Store(fail_on=5)

    async def read(reads: Coalescer[int, str]) -> None:
        first = await first_query_held(reads, store)
        failing = asyncio.ensure_future(reads.get(5))
        await one_turn()
        store.release_first.set()
        assert await asyncio.wait_for(first, WAIT) == "device 0"
        with pytest.raises(RuntimeError, match="database gone"):
            await asyncio.wait_for(failing, WAIT)
        assert await asyncio.wait_for(reads.get(6), WAIT) == "device 6"

    run_reads(store, read)
    assert store.batches == [[0], [5], [6]]


def test_a_read_whose_caller_gave_up_leaves_the_rest_of_its_batch_answered() -> None:
    store = Store()

    async def read(reads: Coalescer[int, str]) -> None:
        first = await first_query_held(reads, store)
        abandoned, kept = asyncio.ensure_future(reads.get(1)), asyncio.ensure_future(reads.get(2))
        await one_turn()
        abandoned.cancel()
        store.release_first.set()
        assert await asyncio.wait_for(first, WAIT) == "device 0"
        assert await asyncio.wait_for(kept, WAIT) == "device 2"
        assert abandoned.cancelled()

    run_reads(store, read)
    assert store.batches == [[0], [1, 2]]


def test_closing_answers_the_reads_asked_for_then_refuses_more() -> None:
    store = Store()

    async def read(reads: Coalescer[int, str]) -> None:
        first = await first_query_held(reads, store)
        later = asyncio.ensure_future(reads.get(1))
        await one_turn()
        closing = asyncio.ensure_future(asyncio.to_thread(reads.close))
        store.release_first.set()
        assert await asyncio.wait_for(first, WAIT) == "device 0"
        assert await asyncio.wait_for(later, WAIT) == "device 1"
        await asyncio.wait_for(closing, WAIT)
        with pytest.raises(RuntimeError, match="closed"):
            await reads.get(2)

    run_reads(store, read)
    assert store.batches == [[0], [1]]


def test_under_load_a_query_gathers_the_reads_that_keep_arriving() -> None:
    store = Store()

    async def read(reads: Coalescer[int, str]) -> None:
        first = await first_query_held(reads, store)
        crowd = [asyncio.ensure_future(reads.get(key)) for key in range(1, Coalescer.CROWD + 2)]
        await one_turn()
        store.release_first.set()
        await asyncio.wait_for(asyncio.gather(first, *crowd), WAIT)
        seventh = asyncio.ensure_future(reads.get(7))
        await one_turn()
        await asyncio.to_thread(eventually, lambda: reads.queued == 0, WAIT, "the seventh read to be taken")
        eighth = asyncio.ensure_future(reads.get(8))
        await one_turn()
        await asyncio.to_thread(reads.close)  # which ends the gathering
        assert await asyncio.wait_for(asyncio.gather(seventh, eighth), WAIT) == ["device 7", "device 8"]

    run_reads(store, read, gather_seconds=WAIT)
    assert store.batches == [[0], list(range(1, Coalescer.CROWD + 2)), [7, 8]]


def test_a_lone_read_never_waits_to_be_gathered() -> None:
    store = Store()
    store.release_first.set()

    async def read(reads: Coalescer[int, str]) -> None:
        # Gathering would hold the read for WAIT; it is answered well before.
        assert await asyncio.wait_for(reads.get(1), WAIT / 2) == "device 1"
        assert await asyncio.wait_for(reads.get(2), WAIT / 2) == "device 2"

    run_reads(store, read, gather_seconds=WAIT)
    assert store.batches == [[1], [2]]


def test_items_the_batch_leaves_out_run_in_the_next_one() -> None:
    runs: list[list[str]] = []
    started, release = threading.Event(), threading.Event()

    def run(items: list[str]) -> None:
        runs.append(items)
        started.set()
        assert release.wait(WAIT)

    def one_per_name(items: Sequence[str]) -> list[int]:
        seen: dict[str, int] = {}
        for position, item in enumerate(items):
            seen.setdefault(item, position)
        return sorted(seen.values())

    batches = Batcher(run, one_per_name)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batches.submit, "a")
        assert started.wait(WAIT)
        later = [pool.submit(batches.submit, name) for name in ("b", "b", "c")]
        eventually(lambda: batches.queued == 3, WAIT, "three items to queue")
        release.set()
        for future in (first, *later):
            future.result(WAIT)
    # The threads may queue in any order; each batch holds one "b".
    assert runs[0] == ["a"] and sorted(runs[1]) == ["b", "c"] and runs[2:] == [["b"]]
