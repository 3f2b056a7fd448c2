"""Runs analytics's `-notifier` process: python -m services.analytics.notifier

It sends the deliveries that `enqueue` and `SendTestEvent` queue to the subscribers'
URLs, signed, and retries those that fail on the backoff schedule of
`domain/webhooks.py` until they succeed or their subscription is disabled. A process of
its own, of plain threads (no nameko, no eventlet: psycopg and HTTP calls that block
are what it does), each taking one due delivery at a time: a receiver that is slow to
answer holds one thread, not the others. Several replicas share the work: a delivery
is leased by one of them (`queries.lease_due`) and, if that one dies, due again when
the lease ends, so a delivery may reach its receiver twice; receivers tell by its
`Gantry-Event-Id`. While the database fails, the threads wait and try again.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from types import FrameType

from prometheus_client import Counter, Gauge, Histogram

from services.analytics.domain.targets import Resolver, resolve
from services.analytics.domain.webhooks import Attempt, Delivery
from services.analytics.queries.webhooks import DueDelivery
from services.analytics.sender import Sender
from services.analytics.settings import WebhookSettings
from services.analytics.storage import metadata
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.analytics.usecases.deliveries import Deliveries
from services.kit import logs, metrics, settings
from services.kit.db import UnitOfWork, make_engine
from services.kit.faults import backoff, is_transient

log = logging.getLogger(__name__)

PROCESS = "analytics-notifier"
# How long a thread with nothing due waits before looking again.
IDLE_SECONDS = 1.0

ATTEMPTS = Counter("gantry_analytics_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
ATTEMPT_SECONDS = Histogram("gantry_analytics_webhook_attempt_seconds", "Duration of one delivery attempt")
DISABLED = Counter(
    "gantry_analytics_webhooks_disabled_total", "Subscriptions disabled after a day of failures"
)
DATABASE_FAILING_SECONDS = Gauge(
    "gantry_analytics_notifier_database_failing_seconds",
    "How long the database has been failing the notifier (0 while it answers)",
)


def lease_for(timeout_seconds: float) -> timedelta:
    """How long a delivery is kept from other notifiers: longer than an attempt can take
    (a connection to each of a few addresses, then the answer), with room to record it."""
    return timedelta(seconds=6 * timeout_seconds + 60)


class Notifier:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        config: WebhookSettings,
        clock: Clock = utc_now,
        resolver: Resolver = resolve,
        rng: random.Random | None = None,
    ) -> None:
        self._deliveries = Deliveries(unit_of_work, clock, rng)
        self._sender = Sender(config.url_policy, config.timeout_seconds, resolver)
        self._clock = clock
        self._concurrency = config.concurrency
        self._lease = lease_for(config.timeout_seconds)
        self._stopping = threading.Event()
        self._defect: BaseException | None = None
        # Since when the database has been failing (monotonic seconds), for the gauge.
        self._failing_since: float | None = None

    def stop(self) -> None:
        self._stopping.set()

    def run_once(self) -> int:
        """Attempts every delivery due now, `concurrency` at a time, and returns how many
        it attempted; a delivery failing now is due again only later. For tests, which
        move the clock between passes."""
        attempted = 0
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="notifier") as pool:
            while due := self._deliveries.lease_due(self._concurrency, self._lease):
                list(pool.map(self._attempt, due))
                attempted += len(due)
        return attempted

    def run_until_stopped(self) -> None:
        """Sends deliveries as they come due on `concurrency` threads until `stop`; the
        attempts in flight then end (within the request timeout) and are recorded."""
        threads = [
            threading.Thread(target=self._work, name=f"notifier-{n}") for n in range(self._concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self._defect is not None:
            raise self._defect

    def _work(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                due = self._deliveries.lease_due(1, self._lease)
                for item in due:
                    self._attempt(item)
            except Exception as error:
                if self._stopping.is_set():
                    # What it leased and did not record comes due again when the lease ends.
                    log.warning("stopped with a delivery unrecorded", extra={"error": str(error)})
                elif is_transient(error):
                    self._wait_out(error, failures)
                    failures += 1
                else:
                    # A defect: every thread stops, and the process ends with it.
                    log.exception("notifier failed")
                    self._defect = error
                    self.stop()
                continue
            failures = 0
            self._failing_since = None
            DATABASE_FAILING_SECONDS.set(0)
            if not due:
                self._stopping.wait(IDLE_SECONDS)

    def _wait_out(self, error: Exception, failures: int) -> None:
        log.warning("database unavailable; retrying", extra={"attempt": failures, "error": str(error)})
        self._failing_since = self._failing_since or time.monotonic()
        DATABASE_FAILING_SECONDS.set(time.monotonic() - self._failing_since)
        self._stopping.wait(backoff(failures))

    def _attempt(self, due: DueDelivery) -> None:
        attempt = self._sender.send(due.delivery, due.url, due.secret, self._clock())
        ATTEMPTS.labels("delivered" if attempt.succeeded else "failed").inc()
        ATTEMPT_SECONDS.observe(attempt.duration_ms / 1000)
        details = {"delivery_id": due.delivery.id, "webhook_id": due.delivery.webhook_id}
        if not attempt.succeeded:
            log.info("delivery attempt failed", extra={**details, "error": attempt.error})
        if self._record(due.delivery, attempt):
            DISABLED.inc()
            log.warning("webhook disabled: failing for a day", extra=details)

    def _record(self, delivery: Delivery, attempt: Attempt) -> bool:
        """Records the attempt, waiting out a failure of the database: the request was
        made, and sending it again is the last resort (taken when stopping: the delivery
        is due again once its lease ends)."""
        failures = 0
        while True:
            try:
                return self._deliveries.record(delivery, attempt)
            except Exception as error:
                if self._stopping.is_set() or not is_transient(error):
                    raise
                self._wait_out(error, failures)
                failures += 1


def main() -> None:
    logs.configure(PROCESS)
    metrics.serve(PROCESS)
    config = WebhookSettings.from_env()
    engine = make_engine(settings.database_url("analytics"))
    notifier = Notifier(partial(UnitOfWork, engine, metadata), config)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        notifier.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "notifying",
        extra={
            "concurrency": config.concurrency,
            "allow_private": config.allow_private,
            "allow_http": config.allow_http,
        },
    )
    try:
        notifier.run_until_stopped()
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
