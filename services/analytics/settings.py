"""Analytics's own settings, from `GANTRY_ANALYTICS_*` variables read when asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.analytics.domain.targets import UrlPolicy
from services.kit.batch_consumer import BatchSettings
from services.kit.settings import env, flag


@dataclass(frozen=True)
class EvaluatorSettings(BatchSettings):
    # A flush writes the state of every device it saw: larger flushes than the writer's
    # write each state once for more readings (measured in process over 1,000 devices:
    # 500,000 readings a flush cost half as much CPU each as 100,000). Such flushes come
    # only when the evaluator is behind: otherwise the time limit flushes first.
    flush_readings: int = 500_000
    # Alarms wait for their flush: a shorter wait than the writer's keeps the time from
    # acknowledgement to alarm low.
    flush_seconds: float = 0.1
    # Enough messages for a full flush of batches of 500 readings (an MQTT lot's).
    prefetch: int = 1000
    # How often NO_DATA triggers are compared with the clock.
    tick_seconds: float = 1.0

    @classmethod
    def from_env(cls) -> EvaluatorSettings:
        return cls(
            flush_readings=int(env("ANALYTICS_FLUSH_READINGS", str(cls.flush_readings))),
            flush_seconds=float(env("ANALYTICS_FLUSH_SECONDS", str(cls.flush_seconds))),
            prefetch=int(env("ANALYTICS_EVALUATOR_PREFETCH", str(cls.prefetch))),
            tick_seconds=float(env("ANALYTICS_TICK_SECONDS", str(cls.tick_seconds))),
        )


def online_window() -> timedelta:
    """A device with a reading this recent counts as online in the overview
    (GANTRY_ANALYTICS_ONLINE_SECONDS)."""
    return timedelta(seconds=int(env("ANALYTICS_ONLINE_SECONDS", "300")))


def capacity_seconds() -> float:
    """How often analytics-worker publishes every modelled machine's measured capacity
    (GANTRY_ANALYTICS_CAPACITY_SECONDS)."""
    return float(env("ANALYTICS_CAPACITY_SECONDS", "3600"))


def evidence_seconds() -> float:
    """How often analytics-worker reports the evidence of booked slots that have ended
    (GANTRY_ANALYTICS_EVIDENCE_SECONDS)."""
    return float(env("ANALYTICS_EVIDENCE_SECONDS", "60"))


def evidence_margin() -> timedelta:
    """How long after a booked slot ends its evidence waits, for the machine's last
    readings of it to be tracked (GANTRY_ANALYTICS_EVIDENCE_MARGIN_SECONDS)."""
    return timedelta(seconds=float(env("ANALYTICS_EVIDENCE_MARGIN_SECONDS", "900")))


@dataclass(frozen=True)
class WebhookSettings:
    # Targets on loopback, private, link-local and other non-public addresses: refused
    # in production, where they would reach the platform's own network.
    allow_private: bool = False
    # http:// URLs, whose deliveries anyone on the way can read and change.
    allow_http: bool = False
    # How long a receiver may take to connect, answer or send each part of its answer.
    timeout_seconds: float = 10.0
    # Deliveries sent at once by one analytics-notifier.
    concurrency: int = 8

    @classmethod
    def from_env(cls) -> WebhookSettings:
        return cls(
            allow_private=flag("ANALYTICS_WEBHOOKS_ALLOW_PRIVATE"),
            allow_http=flag("ANALYTICS_WEBHOOKS_ALLOW_HTTP"),
            timeout_seconds=float(env("ANALYTICS_WEBHOOKS_TIMEOUT_SECONDS", str(cls.timeout_seconds))),
            concurrency=int(env("ANALYTICS_WEBHOOKS_CONCURRENCY", str(cls.concurrency))),
        )

    @property
    def url_policy(self) -> UrlPolicy:
        return UrlPolicy(allow_http=self.allow_http, allow_private=self.allow_private)
