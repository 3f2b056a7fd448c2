"""The token bucket (GCRA) behind the gateway's rate limits."""

from __future__ import annotations

import asyncio

from services.gateway.ratelimit import LocalLimiter, Quota, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def take(limiter: LocalLimiter, quota: Quota, times: int = 1) -> list[Verdict]:
    return [asyncio.run(limiter.take("key", quota)) for _ in range(times)]


def test_a_full_bucket_lets_a_burst_through_then_refuses_until_a_token_is_back() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    quota = Quota(per_second=2, burst=4)
    burst = take(limiter, quota, 4)
    assert [v.allowed for v in burst] == [True] * 4
    assert [v.remaining for v in burst] == [3, 2, 1, 0]
    refused = take(limiter, quota)[0]
    assert not refused.allowed and refused.retry_after == 0.5
    assert refused.headers() == {
        "RateLimit-Limit": "4",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "2",
        "Retry-After": "1",
    }
    clock.now += 0.5
    assert [v.allowed for v in take(limiter, quota, 2)] == [True, False]
    clock.now += 10
    assert take(limiter, quota)[0].remaining == 3


def test_buckets_are_per_credential() -> None:
    limiter = LocalLimiter(Clock())
    quota = Quota(per_second=1, burst=1)
    assert asyncio.run(limiter.take("a", quota)).allowed
    assert asyncio.run(limiter.take("b", quota)).allowed
    assert not asyncio.run(limiter.take("a", quota)).allowed
