"""The registry's own settings, read when asked for."""

from __future__ import annotations

from datetime import timedelta

from services.kit.settings import env
from services.registry.domain_people import SignUpMode, SignUpPolicy, Throttle


def device_reads_gather_seconds() -> float:
    """How long `registry-api`, under load, goes on gathering device reads into one query
    while they keep arriving (`services.kit.batching.Coalescer`)."""
    return float(env("DEVICE_READS_GATHER_MS", "0.5")) / 1000


def sign_in_throttles() -> tuple[Throttle, Throttle]:
    """Failed sign-ins allowed per account and per client address within a window
    (`GANTRY_SIGN_IN_FAILURES_PER_ACCOUNT`, `..._PER_ADDRESS`, `GANTRY_SIGN_IN_WINDOW_MINUTES`)."""
    window = timedelta(minutes=int(env("SIGN_IN_WINDOW_MINUTES", "15")))
    return (
        Throttle(int(env("SIGN_IN_FAILURES_PER_ACCOUNT", "5")), window),
        Throttle(int(env("SIGN_IN_FAILURES_PER_ADDRESS", "20")), window),
    )


def sign_up_policy() -> SignUpPolicy:
    """Whether companies sign up by themselves (`GANTRY_SIGNUP_MODE`: open, approval or
    closed) and how many sign-ups an hour a client address and an e-mail domain may start."""
    mode = env("SIGNUP_MODE", "approval").strip().lower()
    if mode not in {m.value for m in SignUpMode}:
        raise SystemExit(f"GANTRY_SIGNUP_MODE must be open, approval or closed, not {mode!r}")
    return SignUpPolicy(
        SignUpMode(mode),
        per_address=Throttle(int(env("SIGNUP_PER_ADDRESS_PER_HOUR", "5")), timedelta(hours=1)),
        per_domain=Throttle(int(env("SIGNUP_PER_DOMAIN_PER_HOUR", "20")), timedelta(hours=1)),
    )
