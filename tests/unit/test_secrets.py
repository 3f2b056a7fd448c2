from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.errors import Unauthenticated
from services.registry.domain import (
    API_KEY_PREFIX,
    DEVICE_TOKEN_PREFIX,
    ApiKey,
    DeviceCredential,
    issue_secret,
    parse_secret,
    secret_matches,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("prefix", [API_KEY_PREFIX, DEVICE_TOKEN_PREFIX])
def test_an_issued_secret_parses_back_to_its_id_and_matches_its_hash(prefix: str) -> None:
    credential_id = str(uuid.uuid4())
    issued = issue_secret(prefix, credential_id)
    parsed_id, secret = parse_secret(prefix, issued.presented)
    assert parsed_id == credential_id
    assert secret_matches(issued.secret_hash, secret)
    assert not secret_matches(issued.secret_hash, secret + "x")
    assert issued.presented not in repr(issued) and issued.secret_hash not in repr(issued)


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
        "gnt_0123456789abcdef0123456789abcdef_" + "s" * 200,
        "gdt_0123456789abcdef0123456789abcdef_secret",
    ],
)
def test_malformed_api_keys_are_unauthenticated(presented: str) -> None:
    with pytest.raises(Unauthenticated):
        parse_secret(API_KEY_PREFIX, presented)


def test_revoked_or_expired_keys_are_not_usable() -> None:
    key = ApiKey(str(uuid.uuid4()), str(uuid.uuid4()), "k", ("admin",), "hash", NOW)
    assert key.usable_at(NOW)
    expiring = ApiKey(**{**vars(key), "expires_at": NOW + timedelta(hours=1)})
    assert expiring.usable_at(NOW) and not expiring.usable_at(NOW + timedelta(hours=1))
    assert not ApiKey(**{**vars(key), "revoked_at": NOW}).usable_at(NOW)


def test_device_credentials_are_usable_only_inside_their_window() -> None:
    credential = DeviceCredential(
        str(uuid.uuid4()),
        str(uuid.uuid4()),
        str(uuid.uuid4()),
        "hash",
        NOW,
        valid_from=NOW + timedelta(hours=1),
        valid_until=NOW + timedelta(hours=2),
    )
    assert not credential.usable_at(NOW)
    assert credential.usable_at(NOW + timedelta(hours=1))
    assert not credential.usable_at(NOW + timedelta(hours=2))
    assert not DeviceCredential(**{**vars(credential), "revoked_at": NOW}).usable_at(NOW + timedelta(hours=1))
