"""Rate limits per API key and per device token: a token bucket (GCRA, one stored time
per credential), answered with `RateLimit-*` headers and, when spent, 429 and
`Retry-After`.

With `GANTRY_REDIS_URL` set, the buckets live in Redis and one Lua script takes a
token atomically on Redis's own clock, so every replica of the gateway draws from
the same bucket and a partner gets the same limit whichever replica answers.
Without it the buckets live in the process: right for a single gateway only. If
Redis cannot be reached, requests are let through (and counted), so that the
limiter never takes the API down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as redis
from cachetools import TTLCache
from prometheus_client import Counter
from redis.exceptions import RedisError

from services.gateway.problems import Problem
from services.kit import settings

log = logging.getLogger(__name__)

RATE_LIMITED = Counter("gantry_gateway_rate_limited_total", "Requests refused by a rate limit", ["kind"])
LIMITER_FAILURES = Counter("gantry_gateway_rate_limiter_failures_total", "Rate limit checks that failed open")


@dataclass(frozen=True)
class Quota:
    per_second: float
    burst: int

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until the bucket is full again, and, when refused, until a token is back.
    reset: float
    retry_after: float = 0.0

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


def verdict(quota: Quota, stored_tat: float | None, now: float) -> tuple[Verdict, float | None]:
    """GCRA: the verdict on one request, and the new theoretical arrival time to store
    (None when refused). Every figure is in seconds."""
    tat = max(stored_tat or now, now)
    new_tat = tat + quota.interval
    capacity = quota.burst * quota.interval
    if new_tat - now > capacity:
        retry_after = new_tat - capacity - now
        return Verdict(False, quota.burst, 0, tat - now, retry_after), None
    remaining = math.floor((capacity - (new_tat - now)) / quota.interval + 1e-9)
    return Verdict(True, quota.burst, remaining, new_tat - now), new_tat


class LocalLimiter:
    """Buckets in this process's memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._arrivals: TTLCache[str, float] = TTLCache(maxsize=200_000, ttl=3600)
        self._clock = clock

    async def take(self, key: str, quota: Quota) -> Verdict:
        found, new_tat = verdict(quota, self._arrivals.get(key), self._clock())
        if new_tat is not None:
            self._arrivals[key] = new_tat
        return found


# The same GCRA as `verdict`, in milliseconds, on Redis's clock.
_GCRA = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local capacity = burst * interval
if new_tat - now > capacity then
  return {0, 0, tat - now, new_tat - capacity - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
return {1, math.floor((capacity - (new_tat - now)) / interval), new_tat - now, 0}
"""


class RedisLimiter:
    """Buckets in Redis, shared by every gateway replica."""

    def __init__(self, url: str, prefix: str, timeout_seconds: float = 0.25) -> None:
        # Short: a Redis that does not answer lets requests through rather than hold them.
        self._redis = redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._script = self._redis.register_script(_GCRA)
        self._prefix = prefix

    async def take(self, key: str, quota: Quota) -> Verdict:
        interval_ms = max(1, round(quota.interval * 1000))
        try:
            allowed, remaining, reset_ms, retry_ms = await self._script(
                keys=[f"{self._prefix}:{key}"], args=[interval_ms, quota.burst]
            )
        except RedisError:
            LIMITER_FAILURES.inc()
            log.warning("rate limiter unreachable; request let through", exc_info=True)
            return Verdict(True, quota.burst, quota.burst, 0.0)
        return Verdict(bool(allowed), quota.burst, int(remaining), reset_ms / 1000, retry_ms / 1000)

    async def close(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True)
class RateLimits:
    api_key: Quota
    device: Quota

    @classmethod
    def from_env(cls) -> RateLimits:
        return cls(
            api_key=Quota(
                float(settings.env("RATE_LIMIT_KEY_PER_SECOND", "50")),
                int(settings.env("RATE_LIMIT_KEY_BURST", "100")),
            ),
            device=Quota(
                float(settings.env("RATE_LIMIT_DEVICE_PER_SECOND", "5")),
                int(settings.env("RATE_LIMIT_DEVICE_BURST", "20")),
            ),
        )


Limiter = LocalLimiter | RedisLimiter


class RateLimiting:
    """The gateway's limits and where their buckets live."""

    def __init__(self, limiter: Limiter, limits: RateLimits) -> None:
        self._limiter = limiter
        self._quotas = {"key": limits.api_key, "device": limits.device}

    async def take(self, kind: str, credential: str) -> Verdict:
        """Takes a token from the credential's bucket; a Problem 429 when it is empty."""
        # The bucket is named by a hash: the credential itself is never stored.
        key = f"{kind}:{hashlib.sha256(credential.encode()).hexdigest()[:32]}"
        found = await self._limiter.take(key, self._quotas[kind])
        if not found.allowed:
            RATE_LIMITED.labels(kind).inc()
            raise Problem(
                429,
                "rate-limited",
                f"more than {self._quotas[kind].per_second:g} requests per second with this credential; "
                f"retry in {found.headers()['Retry-After']} s",
                headers=found.headers(),
            )
        return found

    async def close(self) -> None:
        if isinstance(self._limiter, RedisLimiter):
            await self._limiter.close()

    @classmethod
    def from_env(cls) -> RateLimiting:
        url = settings.env("REDIS_URL", "")
        prefix = f"{settings.bus_namespace()}:ratelimit"
        limiter = RedisLimiter(url, prefix) if url else LocalLimiter()
        return cls(limiter, RateLimits.from_env())
