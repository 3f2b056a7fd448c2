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
from sqlalchemy import Connection, bindparam, delete, select, tuple_, update

from services.kit.db import driver_connection, insert_if_absent, insert_ignoring_duplicates
from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.marketplace.storage import idempotency_records as records

KEEP = timedelta(hours=48)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

Result = TypeVar("Result")

# Many claims in one statement on PostgreSQL, straight through the driver: arrays, not
# one row per parameter set. Inserted in the order given. The claims are prepared (an
# insert's plan does not depend on the table's size); the results' update, which joins
# the table with the arrays, is planned at each execution (see queries/ledger.py).
_CLAIM_PG = """
INSERT INTO idempotency_records (scope, key, request_hash, created_at)
SELECT scope, key, request_hash, %(now)s
FROM unnest(%(scopes)b::text[], %(keys)b::text[], %(hashes)b::text[]) WITH ORDINALITY
    AS c(scope, key, request_hash, position)
ORDER BY position
ON CONFLICT DO NOTHING
RETURNING scope, key"""
_RECORD_PG = """
UPDATE idempotency_records AS r SET result = c.result
FROM unnest(%(scopes)b::text[], %(keys)b::text[], %(hashes)b::text[], %(results)b::text[])
    AS c(scope, key, request_hash, result)
WHERE r.scope = c.scope AND r.key = c.key"""


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

    def row(self, now: datetime) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "key": self.key,
            "request_hash": self.request_hash,
            "result": None,
            "created_at": now,
        }


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
    if not insert_if_absent(connection, records, claim.row(now)):
        return replay(connection, claim, decode), False
    result = run()
    record(connection, [(claim, encode(result))])
    return result, True


def claim_all(connection: Connection, claims: Sequence[Claim], now: datetime) -> set[Claim]:
    """The claims taken here; the others' keys were taken first. Keys are taken in one
    order, so that two transactions claiming several keys never wait for each other."""
    ordered = sorted(claims, key=lambda claim: (claim.scope, claim.key))
    if connection.dialect.name == "postgresql":
        params = {**_columns(ordered), "now": now}
        taken = set(driver_connection(connection).execute(_CLAIM_PG, params, prepare=True))
        return {claim for claim in ordered if (claim.scope, claim.key) in taken}
    if insert_ignoring_duplicates(connection, records, [claim.row(now) for claim in ordered]) == len(ordered):
        return set(ordered)
    # A record has no result only until the transaction of its claim ends: those seen
    # without one are this transaction's.
    keys = tuple_(records.c.scope, records.c.key)
    ours = set(
        connection.execute(
            select(records.c.scope, records.c.key).where(
                keys.in_([(claim.scope, claim.key) for claim in ordered]), records.c.result.is_(None)
            )
        ).tuples()
    )
    return {claim for claim in ordered if (claim.scope, claim.key) in ours}


def replay(connection: Connection, claim: Claim, decode: Callable[[Any], Result]) -> Result:
    """The result of the first request with the claim's key; KeyReused if it differed."""
    found = connection.execute(
        select(records.c.request_hash, records.c.result).where(
            records.c.scope == claim.scope, records.c.key == claim.key
        )
    ).one()
    if found.request_hash != claim.request_hash:
        raise KeyReused("this idempotency key was used with another request")
    return decode(orjson.loads(found.result))


def record(connection: Connection, results: Sequence[tuple[Claim, Any]]) -> None:
    """Keeps the (JSON-ready) result of each request claimed in this transaction."""
    encoded = [orjson.dumps(result).decode() for _, result in results]
    if connection.dialect.name == "postgresql":
        params = {**_columns([claim for claim, _ in results]), "results": encoded}
        driver_connection(connection).execute(_RECORD_PG, params, prepare=False)
        return
    connection.execute(
        update(records)
        .where(records.c.scope == bindparam("claim_scope"), records.c.key == bindparam("claim_key"))
        .values(result=bindparam("encoded")),
        [
            {"claim_scope": claim.scope, "claim_key": claim.key, "encoded": result}
            for (claim, _), result in zip(results, encoded, strict=True)
        ],
    )


def release(connection: Connection, claims: Sequence[Claim]) -> None:
    """Frees the keys of requests that failed in a transaction that commits others."""
    if claims:
        keys = tuple_(records.c.scope, records.c.key)
        connection.execute(delete(records).where(keys.in_([(claim.scope, claim.key) for claim in claims])))


def _columns(claims: Sequence[Claim]) -> dict[str, list[str]]:
    return {
        "scopes": [claim.scope for claim in claims],
        "keys": [claim.key for claim in claims],
        "hashes": [claim.request_hash for claim in claims],
    }


def forget_older_than(connection: Connection, cutoff: datetime) -> int:
    return connection.execute(delete(records).where(records.c.created_at < cutoff)).rowcount
