from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.errors import Unauthenticated
from services.registry.domain import issue_api_key, parse_api_key, secret_matches

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_an_issued_key_parses_back_to_its_id_and_matches_its_hash() -> None:
    key_id = str(uuid.uuid4())
    issued = issue_api_key(key_id, str(uuid.uuid4()), "admin", ("admin",), NOW)
    parsed_id, secret = parse_api_key(issued.secret)
    assert parsed_id == key_id
    assert secret_matches(issued.key, secret)
    assert not secret_matches(issued.key, secret + "x")
    assert secret not in repr(issued)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "gnt",
        "gnt_",
        "xyz_0123456789abcdef0123456789abcdef_secret",
        "gnt_short_secret",
        "gnt_0123456789abcdef0123456789abcdeg_secret",
        "gnt_0123456789abcdef0123456789abcdef_",
        "gnt__\x00",
    ],
)
def test_malformed_keys_are_unauthenticated(presented: str) -> None:
    with pytest.raises(Unauthenticated):
        parse_api_key(presented)


def test_revoked_or_expired_keys_are_not_usable() -> None:
    key = issue_api_key(str(uuid.uuid4()), str(uuid.uuid4()), "k", ("admin",), NOW).key
    assert key.usable_at(NOW)
    expiring = type(key)(**{**vars(key), "expires_at": NOW + timedelta(hours=1)})
    assert expiring.usable_at(NOW) and not expiring.usable_at(NOW + timedelta(hours=1))
    revoked = type(key)(**{**vars(key), "revoked_at": NOW})
    assert not revoked.usable_at(NOW)
