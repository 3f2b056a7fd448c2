"""Work a long-running process does between its main work, now and then."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from services.kit.faults import is_transient

log = logging.getLogger(__name__)


class Periodic:
    """Runs `task` when asked (`when_due`) if `every` seconds have passed since it last
    ran. While the database or broker fails, it tries again after `retry` seconds rather
    than ending the process; any other error ends it."""

    def __init__(self, name: str, task: Callable[[], None], every: float, retry: float) -> None:
        self._name = name
        self._task = task
        self._every = every
        self._retry = retry
        self._next = 0.0

    def when_due(self) -> None:
        if time.monotonic() < self._next:
            return
        try:
            self._task()
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning(f"{self._name} failed; will retry", extra={"error": str(error)})
            self._next = time.monotonic() + self._retry
            return
        self._next = time.monotonic() + self._every

    def run_on_thread(self, stopping: threading.Event) -> threading.Thread:
        """Runs the task on a daemon thread of its own every period, and once more when
        `stopping` is set, so that the last period's work is not lost."""

        def loop() -> None:
            while not stopping.wait(self._every):
                self.when_due()
            self._next = 0.0
            self.when_due()

        thread = threading.Thread(target=loop, name=self._name, daemon=True)
        thread.start()
        return thread
