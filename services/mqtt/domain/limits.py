"""How much a device may send: a token bucket per device, refilled continuously; and how
many provisioning requests one address may make."""

from __future__ import annotations

from dataclasses import dataclass, field

from cachetools import TTLCache


@dataclass
class TokenBucket:
    """`rate` messages a second on average, `burst` at once; the clock is the caller's, in
    seconds, so that the bucket is a pure function of the times it is asked at."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> bool:
        """Whether one more message is within the limit at time `now` (and counts it)."""
        if self.updated is not None:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class DeviceBuckets:
    """One bucket per connected device, shared by its connections to this replica, and
    forgotten when its last connection closes: the adapter keeps no state beyond them."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[TokenBucket, int]] = {}

    def acquire(self, device_id: str) -> TokenBucket:
        bucket, users = self._buckets.get(device_id, (TokenBucket(self.rate, self.burst), 0))
        self._buckets[device_id] = (bucket, users + 1)
        return bucket

    def release(self, device_id: str) -> None:
        bucket, users = self._buckets[device_id]
        if users <= 1:
            del self._buckets[device_id]
        else:
            self._buckets[device_id] = (bucket, users - 1)

    def __len__(self) -> int:
        return len(self._buckets)


class HostBuckets:
    """One bucket per client address for provisioning requests, remembered a while after
    its connections close, so that reconnecting does not refill it."""

    def __init__(self, rate: float, burst: int, remember_seconds: float = 600.0) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: TTLCache[str, TokenBucket] = TTLCache(maxsize=100_000, ttl=remember_seconds)

    def of(self, host: str) -> TokenBucket:
        if (bucket := self._buckets.get(host)) is None:
            bucket = self._buckets[host] = TokenBucket(self.rate, self.burst)
        return bucket
