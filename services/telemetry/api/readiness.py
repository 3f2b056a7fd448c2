"""telemetry-api's health follows the broker. Ingest calls accept readings only once the
broker confirms them, so while it cannot, `gantry.v1.TelemetryService` reports
NOT_SERVING (and the gateway's /readyz 503) rather than promise what every ingest call
would refuse. The server's overall health ("") stays SERVING: queries still answer, and
restarting the process (a liveness probe's remedy) would not bring the broker back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from grpc_health.v1 import health, health_pb2

log = logging.getLogger(__name__)

# Between two checks while nothing fails: how stale the health may be at worst.
CHECK_SECONDS = 2.0
STOP_SECONDS = 10.0

Report = Callable[[bool], None]


def health_report(servicer: health.HealthServicer, service_name: str) -> Report:
    """Sets `service_name`'s status on `servicer`, which any thread may do."""
    statuses = health_pb2.HealthCheckResponse

    def report(serving: bool) -> None:
        servicer.set(service_name, statuses.SERVING if serving else statuses.NOT_SERVING)

    return report


class BrokerReadiness:
    """Runs `check` on a thread of its own every `interval` seconds, and at once when
    woken (a publication just failed), and reports each change of its answer."""

    def __init__(self, check: Callable[[], bool], interval: float = CHECK_SECONDS) -> None:
        self._check = check
        self._interval = interval
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.serving: bool | None = None

    def wake(self) -> None:
        """Checks now rather than at the end of the interval."""
        self._woken.set()

    def start(self, report: Report) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(report,), name="broker-readiness", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)

    def _run(self, report: Report) -> None:
        while not self._stopping.is_set():
            self._woken.clear()
            serving = self._checked()
            if serving != self.serving:
                self.serving = serving
                report(serving)
                if serving:
                    log.info("broker confirms; telemetry serving")
                else:
                    log.warning("broker does not confirm; telemetry not serving")
            # While not serving, failed publications say nothing new: only the interval
            # brings the next check, so that a flood of failing calls cannot hasten it.
            (self._woken if serving else self._stopping).wait(self._interval)

    def _checked(self) -> bool:
        try:
            return self._check()
        except Exception:
            # A defect must not freeze the health at its last status.
            log.exception("broker check failed")
            return False
