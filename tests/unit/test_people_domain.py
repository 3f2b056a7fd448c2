"""People's rules in plain Python: roles and their scopes, e-mails and passwords, session
expiry, throttles, one-time codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher

from services.kit.scopes import SCOPES
from services.registry.domain_people import (
    OPERATOR_SCOPE,
    ROLE_SCOPES,
    Role,
    Throttle,
    UserSession,
    csrf_secret,
    email_violations,
    hash_password,
    needs_rehash,
    password_matches,
    password_violations,
    token_hash,
    token_matches,
    totp_step,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_roles_hold_the_api_scopes_the_gateway_checks() -> None:
    assert ROLE_SCOPES[Role.ADMIN] == SCOPES
    assert ROLE_SCOPES[Role.VIEWER] == ("devices:read", "telemetry:read", "analytics:read")
    engineer = set(ROLE_SCOPES[Role.ENGINEER])
    assert {"devices:write", "telemetry:write", "analytics:write"} <= engineer
    assert not engineer & {"admin", "marketplace:trade"}
    assert ROLE_SCOPES[Role.OPERATOR] == (OPERATOR_SCOPE,)
    # Every tenant role's scopes are scopes an API key may hold, in their canonical order.
    for role in (Role.ADMIN, Role.ENGINEER, Role.VIEWER):
        assert list(ROLE_SCOPES[role]) == [s for s in SCOPES if s in ROLE_SCOPES[role]]


@pytest.mark.parametrize("email", ["ada@acme.example", "a.b+c@sub.acme.example"])
def test_e_mail_addresses_that_pass(email: str) -> None:
    assert email_violations(email) == []


@pytest.mark.parametrize(
    "email",
    ["", "ada", "ada@", "@acme.example", "ada@acme", "a b@acme.example", "a@b@acme.example", "a@acme.\x00x"],
)
def test_e_mail_addresses_refused(email: str) -> None:
    assert [v.field for v in email_violations(email)] == ["email"]


def test_password_policy_length_and_not_the_e_mail() -> None:
    assert password_violations("x" * 10, "ada@acme.example") == []
    assert password_violations("x" * 128, "ada@acme.example") == []
    for weak in ("x" * 9, "x" * 129, "ADA@acme.example", "ada@acme.example"):
        assert [v.field for v in password_violations(weak, "ada@acme.example")] == ["password"]


def test_passwords_are_argon2id_and_old_parameters_ask_for_a_rehash() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert password_matches(stored, "correct horse battery")
    assert not password_matches(stored, "wrong horse battery")
    assert not password_matches(None, "correct horse battery")
    assert not password_matches("not a hash", "correct horse battery")
    assert not needs_rehash(stored)
    weaker = PasswordHasher(time_cost=1, memory_cost=8192).hash("correct horse battery")
    assert password_matches(weaker, "correct horse battery") and needs_rehash(weaker)


def test_a_session_expires_idle_after_12_hours_and_at_the_latest_after_7_days() -> None:
    fresh = UserSession("s", "u", NOW, NOW, "203.0.113.7")
    assert fresh.live_at(NOW + timedelta(hours=11, minutes=59))
    assert not fresh.live_at(NOW + timedelta(hours=12))
    used_lately = UserSession("s", "u", NOW, NOW + timedelta(days=6, hours=23), "203.0.113.7")
    assert used_lately.idle_expires_at == NOW + timedelta(days=7)
    assert not used_lately.live_at(NOW + timedelta(days=7))
    assert not fresh.needs_touch(NOW + timedelta(seconds=59))
    assert fresh.needs_touch(NOW + timedelta(minutes=1))


def test_a_throttle_waits_until_the_oldest_counted_failure_leaves_the_window() -> None:
    throttle = Throttle(3, timedelta(minutes=15))
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 10)]
    assert throttle.retry_after(failures[:2], NOW) is None
    assert throttle.retry_after(failures, NOW) == timedelta(minutes=5)
    assert throttle.retry_after(failures, NOW + timedelta(minutes=5)) is None


def test_tokens_are_kept_as_sha256_and_compared_whole() -> None:
    assert len(token_hash("t")) == 64 and token_matches(token_hash("t"), "t")
    assert not token_matches(token_hash("t"), "u")
    assert csrf_secret("t") != token_hash("t") and csrf_secret("t") == csrf_secret("t")


def test_a_totp_code_is_accepted_in_its_step_or_one_either_side_and_never_twice() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(NOW)
    assert totp_step(secret, totp.at(NOW), NOW, None) == step
    assert totp_step(secret, totp.at(NOW, counter_offset=-1), NOW, None) == step - 1
    assert totp_step(secret, totp.at(NOW, counter_offset=2), NOW, None) is None
    assert totp_step(secret, totp.at(NOW), NOW, last_step=step) is None
    assert totp_step(secret, "12345", NOW, None) is None
    full_width_digits = "\uff11\uff12\uff13\uff14\uff15\uff16"
    assert totp_step(secret, full_width_digits, NOW, None) is None
