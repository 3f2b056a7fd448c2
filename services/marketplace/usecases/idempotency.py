"""Money-moving calls run once per idempotency key, with Stripe's semantics: the same
key with the same request answers the first result again, even when the two arrive
together; the same key with another request is refused.

The key is claimed in the transaction that moves the money: a second request with
the key waits on the first's claim, then finds its committed result, or, if the
first rolled back, runs itself. Records are kept at least KEEP.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.marketplace.queries import idempotency as queries
from services.marketplace.usecases import UnitOfWorkFactory

KEEP = timedelta(hours=48)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

Result = TypeVar("Result")


class KeyReused(FailedPrecondition):
    """An idempotency key already used with another request."""

    reason = "IDEMPOTENCY_KEY_REUSED"


def require_key(key: str) -> str:
    if not _VALID_KEY.match(key):
        raise InvalidArgument([FieldViolation("idempotency_key", "1 to 255 visible ASCII characters")])
    return key


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class Claim:
    """A request's hold on its idempotency key within its actor's scope."""

    scope: str
    key: str
    request_hash: str

    @classmethod
    def of(cls, scope: str, key: str, request: dict[str, Any]) -> Claim:
        return cls(scope, require_key(key), request_hash(request))

    @property
    def as_key(self) -> queries.ClaimKey:
        return (self.scope, self.key, self.request_hash)


def once(
    connection: Connection,
    scope: str,
    key: str,
    request: dict[str, Any],
    now: datetime,
    run: Callable[[], Result],
    encode: Callable[[Result], Any],
    decode: Callable[[Any], Result],
) -> tuple[Result, bool]:
    """`run()`'s result, or the result of the first request with this key; True when
    `run` ran (the caller then commits), False when the result is replayed."""
    claim = Claim.of(scope, key, request)
    if not queries.claim_one(connection, claim.as_key, now):
        return replay(connection, claim, decode), False
    result = run()
    record(connection, [(claim, encode(result))])
    return result, True


def claim_all(connection: Connection, claims: Sequence[Claim], now: datetime) -> set[Claim]:
    """The claims taken here; the others' keys were taken first. Keys are taken in one
    order, so that two transactions claiming several keys never wait for each other."""
    ordered = sorted(claims, key=lambda claim: (claim.scope, claim.key))
    taken = queries.claim_in_order(connection, [claim.as_key for claim in ordered], now)
    return {claim for claim in ordered if (claim.scope, claim.key) in taken}


def replay(connection: Connection, claim: Claim, decode: Callable[[Any], Result]) -> Result:
    """The result of the first request with the claim's key; KeyReused if it differed."""
    found = queries.first_request(connection, claim.scope, claim.key)
    if found.request_hash != claim.request_hash:
        raise KeyReused("this idempotency key was used with another request")
    return decode(orjson.loads(found.result))


def record(connection: Connection, results: Sequence[tuple[Claim, Any]]) -> None:
    """Keeps the (JSON-ready) result of each request claimed in this transaction."""
    queries.keep_results(
        connection, [(claim.as_key, orjson.dumps(result).decode()) for claim, result in results]
    )


def release(connection: Connection, claims: Sequence[Claim]) -> None:
    """Frees the keys of requests that failed in a transaction that commits others."""
    queries.free(connection, [(claim.scope, claim.key) for claim in claims])


def forget_expired(unit_of_work: UnitOfWorkFactory, now: datetime) -> int:
    """Forgets the records older than KEEP: no retry comes that late. How many there were."""
    with unit_of_work() as uow:
        forgotten = queries.forget_older_than(uow.connection, now - KEEP)
        uow.commit()
    return forgotten
