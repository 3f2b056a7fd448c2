"""Work a long-running process does between its main work, now and then."""

from __future__ import annotations

import logging
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
