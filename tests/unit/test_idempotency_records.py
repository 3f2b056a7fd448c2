"""Idempotent answers are kept sealed: only the caller presenting the same API key and
Idempotency-Key can open them."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from starlette.requests import Request

from services.gateway.idempotency import Answer, Idempotency, LocalRecords, Record


def request_with(key: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/v1/tenants",
            "headers": [(b"idempotency-key", key.encode())],
        }
    )


def test_a_sealed_answer_opens_only_for_its_own_keys() -> None:
    idempotency = Idempotency(LocalRecords(), "ns:idempotency")
    slot = idempotency.slot_of(request_with("k-1"), "gnt_owner")
    assert slot is not None
    answer = Answer(201, {"content-type": "application/json"}, b'{"api_key": "gnt_secret"}')
    sealed = slot.seal(answer)
    assert b"gnt_secret" not in Record("f", sealed).encode()
    assert slot.open(sealed) == answer
    for other in (
        idempotency.slot_of(request_with("k-1"), "gnt_someone_else"),
        idempotency.slot_of(request_with("k-2"), "gnt_owner"),
    ):
        assert other is not None
        with pytest.raises(InvalidTag):
            other.open(sealed)
