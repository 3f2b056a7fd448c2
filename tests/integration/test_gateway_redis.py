"""What the gateway keeps in the real Redis: rate-limit buckets shared by every replica,
and idempotency records."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.gateway.idempotency import Record, RedisRecords
from services.gateway.problems import Problem
from services.gateway.ratelimit import Quota, RedisLimiter
from tests.support.backends import REDIS_URL, delete_redis_keys

PATIENT_SECONDS = 10.0


async def takes(limiters: list[RedisLimiter], quota: Quota, count: int) -> list[bool]:
    verdicts = [await limiters[i % len(limiters)].take("key:k1", quota) for i in range(count)]
    for limiter in limiters:
        await limiter.close()
    return [v.allowed for v in verdicts]


def test_two_replicas_draw_from_one_bucket() -> None:
    prefix = f"gantry-test-{uuid.uuid4().hex[:8]}:ratelimit"
    quota = Quota(per_second=0.01, burst=3)
    try:
        # A call that timed out would be let through: on a busy machine, not for want of tokens.
        replicas = [RedisLimiter(REDIS_URL, prefix, PATIENT_SECONDS) for _ in range(2)]
        assert asyncio.run(takes(replicas, quota, 5)) == [True, True, True, False, False]
    finally:
        delete_redis_keys(prefix)


def test_an_unreachable_redis_lets_requests_through() -> None:
    unreachable = RedisLimiter("redis://127.0.0.1:1/0", "nowhere")
    assert asyncio.run(takes([unreachable], Quota(per_second=0.01, burst=1), 3)) == [True, True, True]


def test_idempotency_keys_are_refused_while_redis_is_unreachable() -> None:
    records = RedisRecords("redis://127.0.0.1:1/0")
    with pytest.raises(Problem) as refused:
        asyncio.run(records.claim("k", Record("f", None)))
    assert refused.value.status == 503
