"""Work submitted together runs together: batches form while one runs, a lone item runs
at once, a failed batch fails each of its items, and items left out wait for the next."""

from __future__ import annotations

import threading
from collections.abc import Sequence
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


def test_a_lone_read_runs_at_once_and_a_missing_key_is_none() -> None:
    store = Store()
    store.release_first.set()
    reads = Coalescer(store.fetch)
    assert reads.get(3) == "device 3"
    assert reads.get(-1) is None
    assert store.batches == [[3], [-1]]


def test_reads_arriving_during_a_query_go_together_in_the_next() -> None:
    store = Store()
    reads = Coalescer(store.fetch)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(reads.get, 0)
        assert store.first_started.wait(WAIT)
        queued = [pool.submit(reads.get, key) for key in range(1, 8)]
        eventually(lambda: reads.queued == 7, WAIT, "the later reads to queue behind the first query")
        store.release_first.set()
        assert first.result(WAIT) == "device 0"
        assert [future.result(WAIT) for future in queued] == [f"device {key}" for key in range(1, 8)]
    assert store.batches[0] == [0] and sorted(store.batches[1]) == list(range(1, 8))
    assert len(store.batches) == 2


def test_a_failed_query_fails_its_batch_and_the_next_batch_still_runs() -> None:
    store = Store(fail_on=5)
    reads = Coalescer(store.fetch)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(reads.get, 0)
        assert store.first_started.wait(WAIT)
        failing = pool.submit(reads.get, 5)
        eventually(lambda: reads.queued == 1, WAIT, "the read to queue behind the first query")
        store.release_first.set()
        assert first.result(WAIT) == "device 0"
        with pytest.raises(RuntimeError, match="database gone"):
            failing.result(WAIT)
    assert reads.get(6) == "device 6"


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
