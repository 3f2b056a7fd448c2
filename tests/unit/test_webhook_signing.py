"""Webhooks' rules in plain Python: signatures as partners verify them, the URL policy
against hostile URLs, and the schedule of retries."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from services.analytics.domain.targets import RefusedTarget, UrlPolicy
from services.analytics.domain.webhooks import (
    DISABLE_AFTER,
    RETRY_DELAYS,
    InvalidSignature,
    failing_too_long,
    new_secret,
    retry_delay,
    sign,
    verify,
)

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BODY = b'{"id":"5f0c","type":"alarm.raised","data":{"severity":"major"}}'
STRICT = UrlPolicy()
OPEN = UrlPolicy(allow_private=True)


def refusal(url: str, policy: UrlPolicy = STRICT) -> str | None:
    return policy.refusal(url, resolver=_no_dns)


def _no_dns(host: str, port: int) -> list[str]:
    raise OSError(f"{host} is not resolved in these tests")


# --- Signatures -------------------------------------------------------------------


def test_a_signature_verifies_with_its_secret() -> None:
    secret = new_secret()
    header = sign(secret, BODY, NOW)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert header.startswith(f"t={int(NOW.timestamp())},")
    verify(secret, header, BODY, now=NOW)


def test_secrets_are_new_each_time_and_url_safe() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret) for secret in secrets)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda secret, header, body: (secret, header, body + b" "), "no signature matches"),
        (
            lambda secret, header, body: (secret, header, body.replace(b"major", b"minor")),
            "no signature matches",
        ),
        (lambda secret, header, body: (new_secret(), header, body), "no signature matches"),
        (
            lambda secret, header, body: (
                secret,
                re.sub(r"t=(\d+)", lambda m: f"t={int(m[1]) + 1}", header),
                body,
            ),
            "no signature matches",
        ),
        (lambda secret, header, body: (secret, header.split(",")[1], body), "no timestamp"),
        (lambda secret, header, body: (secret, header.split(",")[0], body), "no v1 signature"),
        (lambda secret, header, body: (secret, "t=abc,v1=00", body), "no timestamp"),
        (lambda secret, header, body: (secret, "", body), "no timestamp"),
    ],
    ids=["body", "value", "secret", "timestamp", "no-timestamp", "no-signature", "garbage", "empty"],
)
def test_a_tampered_request_is_refused(change, reason: str) -> None:
    secret = new_secret()
    tampered = change(secret, sign(secret, BODY, NOW), BODY)
    with pytest.raises(InvalidSignature, match=reason):
        verify(*tampered, now=NOW)


@pytest.mark.parametrize("offset", [timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=1)])
def test_a_signature_outside_the_tolerance_is_refused(offset: timedelta) -> None:
    secret = new_secret()
    with pytest.raises(InvalidSignature, match="outside the tolerance"):
        verify(secret, sign(secret, BODY, NOW), BODY, now=NOW + offset)


def test_a_signature_within_the_tolerance_verifies() -> None:
    secret = new_secret()
    header = sign(secret, BODY, NOW)
    verify(secret, header, BODY, now=NOW + timedelta(seconds=300))
    verify(secret, header, BODY, now=NOW - timedelta(seconds=300))
    verify(secret, header, BODY, tolerance_s=3600, now=NOW + timedelta(minutes=59))


def test_one_matching_signature_among_several_is_enough() -> None:
    old, new = new_secret(), new_secret()
    both = f"{sign(old, BODY, NOW)},v1={sign(new, BODY, NOW).split('v1=')[1]}"
    verify(old, both, BODY, now=NOW)
    verify(new, both, BODY, now=NOW)


# --- URL policy -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1", "must be an https URL: http is not allowed here"),
        ("https://[::1]/", "must not target a loopback address (::1)"),
        ("https://10.1.2.3", "must not target a private address (10.1.2.3)"),
        ("https://172.16.0.9/", "must not target a private address (172.16.0.9)"),
        ("https://192.168.1.20:8443/hook", "must not target a private address (192.168.1.20)"),
        ("https://[fd12:3456::1]/", "must not target a private address (fd12:3456::1)"),
        (
            "https://169.254.169.254/latest/meta-data",
            "must not target a link-local address (169.254.169.254)",
        ),
        ("https://[fe80::1]/", "must not target a link-local address (fe80::1)"),
        ("https://0.0.0.0/", "must not target an unspecified address (0.0.0.0)"),
        ("https://[::]/", "must not target an unspecified address (::)"),
        ("https://224.0.0.251/", "must not target a multicast address (224.0.0.251)"),
        ("https://240.0.0.1/", "must not target a reserved address (240.0.0.1)"),
        ("https://100.64.0.1/", "must not target a shared (carrier-grade NAT) address (100.64.0.1)"),
        ("https://2130706433/", "must not target a loopback address (127.0.0.1)"),
        ("https://0x7f.1/", "must not target a loopback address (127.0.0.1)"),
        ("https://0177.0.0.1/", "must not target a loopback address (127.0.0.1)"),
        ("https://127.1/", "must not target a loopback address (127.0.0.1)"),
        ("https://0xa9fea9fe/", "must not target a link-local address (169.254.169.254)"),
        ("https://[::ffff:127.0.0.1]/", "must not target a loopback address (::ffff:127.0.0.1)"),
        ("https://[::ffff:a9fe:a9fe]/", "must not target a link-local address (::ffff:169.254.169.254)"),
        ("https://[2002:a00:1::]/", "must not target a private address (2002:a00:1::)"),
        ("https://user:pw@example.com", "must not carry credentials"),
        ("https://user@example.com/", "must not carry credentials"),
        ("ftp://example.com/hooks", "must be an https URL"),
        ("javascript:alert(document.domain)", "must be an https URL"),
        ("file:///etc/passwd", "must be an https URL"),
        ("https://example.com/" + "a" * 2048, "at most 2048 characters"),
        ("https://example.com/a b", "must not contain spaces or control characters"),
        ("https://example.com/\r\nX-Injected: 1", "must not contain spaces or control characters"),
        ("https:///hooks", "must name a host"),
        ("https://example.com:0/", "not a valid port"),
        ("https://example.com:65536/", "not a valid port"),
        ("https://256.1.1.1/", "not a valid IPv4 address"),
        ("https://1.2.3.4.5/", "not a valid IPv4 address"),
        ("https://-partner.example/", "not a valid host name"),
    ],
)
def test_hostile_urls_are_refused_saying_why(url: str, why: str) -> None:
    assert refusal(url) == why


def test_a_name_resolving_to_the_machine_itself_is_refused() -> None:
    # The system's own resolver, as in production: localhost is on this machine.
    assert STRICT.refusal("https://localhost/hooks") == "localhost resolves to a loopback address (127.0.0.1)"


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    assert STRICT.refusal("https://partner.example/", rebinding) == (
        "partner.example resolves to a private address (10.0.0.7)"
    )
    target = STRICT.parse("https://partner.example/")
    with pytest.raises(RefusedTarget, match="resolves to a private address"):
        STRICT.addresses(target, rebinding)


def test_a_name_that_does_not_resolve_yet_is_allowed_and_checked_when_due() -> None:
    assert refusal("https://hooks.partner.example/gantry?source=alarms") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8443/",
        "https://[::1]/",
        "https://10.1.2.3",
        "https://169.254.169.254/latest/meta-data",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://100.64.0.1/",
    ],
)
def test_private_targets_are_allowed_where_the_operator_allows_them(url: str) -> None:
    assert refusal(url, OPEN) is None
    assert OPEN.refusal("https://localhost/hooks") is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/", "must be an https URL: http is not allowed here"),
        ("https://user:pw@127.0.0.1/", "must not carry credentials"),
        ("gopher://127.0.0.1/", "must be an https URL"),
    ],
)
def test_allowing_private_targets_allows_nothing_else(url: str, why: str) -> None:
    assert refusal(url, OPEN) == why


def test_http_is_allowed_where_the_operator_allows_it() -> None:
    assert refusal("http://93.184.215.14/hooks", UrlPolicy(allow_http=True)) is None
    assert refusal("ftp://93.184.215.14/", UrlPolicy(allow_http=True)) == "must be an https or http URL"


def test_a_target_keeps_the_name_for_the_host_header_and_the_certificate() -> None:
    target = STRICT.parse("https://Hooks.Partner.example.:8443/in?x=1")
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.partner.example",
        8443,
        "/in?x=1",
        None,
    )
    assert target.host_header == "hooks.partner.example:8443"
    assert STRICT.parse("https://[2606:4700::1111]/").host_header == "[2606:4700::1111]"


# --- Retries ----------------------------------------------------------------------


def test_retries_back_off_then_come_hourly_with_jitter() -> None:
    rng = random.Random(3)
    schedule = [10, 30, 60, 300, 900, 1800, 3600, 3600, 3600]
    for failures, seconds in enumerate(schedule, start=1):
        delays = {retry_delay(failures, rng) for _ in range(50)}
        assert all(0.9 * seconds <= delay.total_seconds() <= 1.1 * seconds for delay in delays)
        assert len(delays) > 1, "spread out, not all at once"
    assert RETRY_DELAYS[-1] == timedelta(hours=1)


def test_a_webhook_failing_for_a_day_is_to_be_disabled() -> None:
    assert not failing_too_long(None, NOW)
    assert not failing_too_long(NOW - DISABLE_AFTER + timedelta(seconds=1), NOW)
    assert failing_too_long(NOW - DISABLE_AFTER, NOW)
