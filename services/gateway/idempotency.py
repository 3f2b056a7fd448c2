"""`Idempotency-Key` on every POST that creates something, with Stripe's semantics: the
same key with the same request answers the first response again (for 24 hours);
the same key with another request is refused (422); while the first is still being
answered, a second with the same key is refused (409) rather than run twice.

Records live in Redis when `GANTRY_REDIS_URL` is set, so that a retry reaching
another replica is recognised; otherwise in the process. Each API key has its own
key space. As Stripe does, the answer of every request that began executing is
kept, 5xx included: a call cut off in its backend may have committed, and running
its retry would then create twice; so may a backend that answers UNAVAILABLE after a
commit whose outcome it could not learn. Only a request that certainly changed
nothing leaves its key free for a retry: one refused before its handler ran
(credentials, rate limit, validation, this store unreachable) or one grpc could not
even send to its backend. While Redis cannot be reached, requests with a key are
refused (503) rather than risk running twice.

Some answers hold secrets shown once (a new tenant's API key, a device's access
token), so answers are kept encrypted (AES-GCM) under a key derived from the API key
and the Idempotency-Key together: Redis holds only hashes of those, and whoever
reads it can decrypt nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass

import orjson
import redis.asyncio as redis
from cachetools import TTLCache
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.problems import Problem
from services.kit import settings

log = logging.getLogger(__name__)

KEEP_SECONDS = 24 * 3600
# How long a claim holds while its request runs; a crashed gateway frees the key then.
CLAIM_SECONDS = 60
HEADER = "idempotency-key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def offered_key(request: Request) -> str | None:
    """The request's Idempotency-Key, None when it sends none."""
    offered = request.headers.get(HEADER)
    if offered is not None and not _VALID_KEY.match(offered):
        raise Problem(400, "bad-idempotency-key", "Idempotency-Key must be 1 to 255 visible ASCII characters")
    return offered


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, response: Response) -> Answer:
        return cls(response.status_code, dict(response.headers), bytes(response.body))

    def response(self) -> Response:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
        return Response(self.body, self.status, {**headers, "Idempotent-Replayed": "true"})


@dataclass(frozen=True)
class Record:
    """What is kept of a request: its fingerprint, and its answer sealed (None while the
    first request runs)."""

    fingerprint: str
    sealed: bytes | None

    def encode(self) -> bytes:
        return orjson.dumps(
            {"fingerprint": self.fingerprint, "sealed": None if self.sealed is None else self.sealed.hex()}
        )

    @classmethod
    def decode(cls, raw: bytes) -> Record:
        data = orjson.loads(raw)
        return cls(data["fingerprint"], None if data["sealed"] is None else bytes.fromhex(data["sealed"]))


@dataclass(frozen=True)
class Slot:
    """Where one (API key, Idempotency-Key) pair's record is kept, and the key sealing it."""

    key: str
    secret: bytes

    def seal(self, answer: Answer) -> bytes:
        plain = orjson.dumps(
            {"status": answer.status, "headers": answer.headers, "body": answer.body.decode()}
        )
        nonce = os.urandom(12)
        return nonce + AESGCM(self.secret).encrypt(nonce, plain, self.key.encode())

    def open(self, sealed: bytes) -> Answer:
        plain = AESGCM(self.secret).decrypt(sealed[:12], sealed[12:], self.key.encode())
        data = orjson.loads(plain)
        return Answer(data["status"], data["headers"], data["body"].encode())


class LocalRecords:
    def __init__(self) -> None:
        self._records: TTLCache[str, Record] = TTLCache(maxsize=100_000, ttl=KEEP_SECONDS)

    async def claim(self, key: str, record: Record) -> Record | None:
        """Stores `record` unless the key has one; returns the existing one."""
        existing = self._records.get(key)
        if existing is None:
            self._records[key] = record
        return existing

    async def keep(self, key: str, record: Record) -> None:
        self._records[key] = record

    async def release(self, key: str) -> None:
        self._records.pop(key, None)

    async def close(self) -> None:
        pass


_UNAVAILABLE = "the store of idempotency keys cannot be reached; retry with the same key"


class RedisRecords:
    def __init__(self, url: str) -> None:
        self._redis = redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    async def claim(self, key: str, record: Record) -> Record | None:
        try:
            if await self._redis.set(key, record.encode(), nx=True, ex=CLAIM_SECONDS):
                return None
            existing = await self._redis.get(key)
        except RedisError:
            raise Problem(503, "idempotency-unavailable", _UNAVAILABLE) from None
        # Expired between the two calls: claim again.
        return Record.decode(existing) if existing else await self.claim(key, record)

    async def keep(self, key: str, record: Record) -> None:
        try:
            await self._redis.set(key, record.encode(), ex=KEEP_SECONDS)
        except RedisError:
            # The answer is given all the same; a retry would find the claim expire.
            log.warning("idempotent answer not kept", exc_info=True)

    async def release(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except RedisError:
            log.warning("idempotency claim not released; it expires by itself", exc_info=True)

    async def close(self) -> None:
        await self._redis.aclose()


def fingerprint(request: Request, body: bytes) -> str:
    """What makes two requests the same request."""
    return hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + body).hexdigest()


class Idempotency:
    def __init__(self, records: LocalRecords | RedisRecords, prefix: str) -> None:
        self._records = records
        self._prefix = prefix

    @classmethod
    def from_env(cls) -> Idempotency:
        url = settings.env("REDIS_URL", "")
        records = RedisRecords(url) if url else LocalRecords()
        return cls(records, f"{settings.bus_namespace()}:idempotency")

    def slot_of(self, request: Request, credential: str) -> Slot | None:
        """Where the request's record is kept, or None when it carries no key."""
        offered = offered_key(request)
        if offered is None:
            return None
        owner = hashlib.sha256(credential.encode()).hexdigest()[:32]
        key = f"{self._prefix}:{owner}:{hashlib.sha256(offered.encode()).hexdigest()}"
        secret = hashlib.sha256(
            b"gantry idempotent answer\0" + credential.encode() + b"\0" + offered.encode()
        )
        return Slot(key, secret.digest())

    async def begin(self, slot: Slot, fingerprint: str) -> Response | None:
        """The first answer to replay, or None when this request is the first."""
        existing = await self._records.claim(slot.key, Record(fingerprint, None))
        if existing is None:
            return None
        if existing.fingerprint != fingerprint:
            raise Problem(422, "idempotency-key-reused", "this Idempotency-Key was used with another request")
        if existing.sealed is None:
            raise Problem(
                409, "idempotency-key-in-use", "a request with this Idempotency-Key is still running"
            )
        return slot.open(existing.sealed).response()

    async def end(self, slot: Slot, fingerprint: str, answer: Response | None) -> None:
        """Keeps `answer`, whatever its status, to be replayed; None frees the key for a
        request that changed nothing."""
        if answer is None:
            await self._records.release(slot.key)
            return
        await self._records.keep(slot.key, Record(fingerprint, slot.seal(Answer.of(answer))))

    async def close(self) -> None:
        await self._records.close()
