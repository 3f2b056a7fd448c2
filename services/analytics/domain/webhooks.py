"""Webhooks in plain Python: subscriptions, their deliveries, how a delivery is signed
and verified, and how long a failing one waits before its next attempt.

Signing follows the scheme partners know from payment platforms: the header
`Gantry-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed by
the subscription's whole secret (`whsec_…`). The timestamp is signed with the body, so
that a captured request replayed later is refused by `verify`'s tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

SIGNATURE_HEADER = "Gantry-Signature"
SECRET_PREFIX = "whsec_"
SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300

# The event type of `SendTestEvent`'s deliveries, sent to one subscription only.
TEST_EVENT_TYPE = "webhook.test"
MAX_WEBHOOKS_PER_TENANT = 20

# Why a subscription was disabled (`Webhook.disabled_reason`).
FAILING_FOR_A_DAY = "failing for a day"
BY_REQUEST = "by request"
# A subscription none of whose deliveries succeeded for this long is disabled: its
# receiver is gone, and retrying its backlog hourly forever helps no one.
DISABLE_AFTER = timedelta(hours=24)

# The wait after each failed attempt, then hourly; each stretched or shrunk by up to
# `JITTER`, so that deliveries failing together (a receiver's outage) come back spread out.
RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (10, 30, 60, 5 * 60, 15 * 60, 30 * 60, 60 * 60))
JITTER = 0.1


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # The subscription was disabled or deleted before the delivery succeeded.
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class Webhook:
    """A row of `webhooks`, without its secret, which only signing reads."""

    id: str
    tenant_id: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: str
    created_at: datetime
    failing_since: datetime | None = None
    deleted: bool = False

    def disabled(self, reason: str) -> Webhook:
        """Disabled for `reason`; one disabled already keeps the reason it was given."""
        if not self.enabled:
            return self
        return replace(self, enabled=False, disabled_reason=reason)

    def enabled_again(self) -> Webhook:
        """Enabled with a clean slate: counting a day of failures from an old one would
        disable it again at its first failure."""
        if self.enabled:
            return self
        return replace(self, enabled=True, disabled_reason="", failing_since=None)


@dataclass(frozen=True)
class Attempt:
    at: datetime
    # The HTTP status answered, 0 when none came.
    status_code: int
    # "" when it succeeded.
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription, with its JSON body as signed and sent."""

    id: str
    webhook_id: str
    tenant_id: str
    event_id: str
    event_type: str
    payload: str
    state: DeliveryState
    created_at: datetime
    next_attempt_at: datetime | None
    attempts: int


def new_delivery(
    webhook: Webhook,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    now: datetime,
) -> Delivery:
    """A delivery of an event to `webhook`, due at once. Its body is written now, once:
    every attempt sends, and signs, the very same bytes."""
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": occurred_at.isoformat(),
        "tenant_id": webhook.tenant_id,
        "data": data,
    }
    return Delivery(
        str(uuid.uuid4()),
        webhook.id,
        webhook.tenant_id,
        event_id,
        event_type,
        orjson.dumps(body).decode(),
        DeliveryState.PENDING,
        now,
        now,
        0,
    )


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, at: datetime) -> str:
    """The `Gantry-Signature` header of `body` sent at `at`."""
    timestamp = int(at.timestamp())
    return f"t={timestamp},{SIGNATURE_SCHEME}={_digest(secret, timestamp, body)}"


class InvalidSignature(Exception):
    """A request's `Gantry-Signature` does not prove it came from Gantry, now."""


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance_s: int = DEFAULT_TOLERANCE_SECONDS,
    now: datetime | None = None,
) -> None:
    """Checks that `body`, as received, was signed with `secret` within `tolerance_s` of
    `now`; InvalidSignature, saying why, when it was not. The header may carry several
    `v1` signatures (as during a change of secret): one matching is enough."""
    timestamp, signatures = _parse_header(header)
    now = now or datetime.now(UTC)
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise InvalidSignature("timestamp outside the tolerance")
    expected = _digest(secret, timestamp, body)
    # Every candidate compared in constant time: the time taken says nothing of the secret.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise InvalidSignature("no signature matches")


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamps, signatures = [], []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == SIGNATURE_SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise InvalidSignature("no timestamp")
    if not signatures:
        raise InvalidSignature(f"no {SIGNATURE_SCHEME} signature")
    return int(timestamps[0]), signatures


def retry_delay(failed_attempts: int, rng: random.Random) -> timedelta:
    """The wait before the next attempt of a delivery that has failed `failed_attempts`
    times (from 1)."""
    step = RETRY_DELAYS[min(failed_attempts, len(RETRY_DELAYS)) - 1]
    return step * rng.uniform(1 - JITTER, 1 + JITTER)


def failing_too_long(failing_since: datetime | None, now: datetime) -> bool:
    """Whether a subscription failing since `failing_since` is to be disabled at `now`."""
    return failing_since is not None and now - failing_since >= DISABLE_AFTER
