"""People: users, their roles and the scopes each role holds, passwords, sessions and
one-time tokens, in plain Python."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.kit.errors import FieldViolation
from services.kit.scopes import SCOPES

# The scope of the platform operator, as the gateway names it.
OPERATOR_SCOPE = "operator"

PASSWORD_MIN, PASSWORD_MAX = 10, 128
EMAIL_MAX = 254
# One @, no spaces or control characters, a dot in the domain: what every mail server takes.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+\Z")

SESSION_IDLE = timedelta(hours=12)
SESSION_ABSOLUTE = timedelta(days=7)
# A session's last use is written at most this often, so resolving it is mostly a read.
SESSION_TOUCH = timedelta(minutes=1)
INVITATION_VALID = timedelta(hours=72)
PASSWORD_RESET_VALID = timedelta(hours=1)
CHALLENGE_VALID = timedelta(minutes=5)
SIGN_UP_VALID = timedelta(hours=24)
TOTP_ISSUER = "Gantry"
TOTP_DIGITS = 6


class Role(StrEnum):
    ADMIN = "admin"
    ENGINEER = "engineer"
    VIEWER = "viewer"
    OPERATOR = "operator"


TENANT_ROLES = (Role.ADMIN, Role.ENGINEER, Role.VIEWER)


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class TokenPurpose(StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"
    SIGN_IN_CHALLENGE = "sign_in_challenge"


def _in_order(granted: set[str]) -> tuple[str, ...]:
    return tuple(scope for scope in SCOPES if scope in granted)


# The one place where a role becomes API scopes: the console applies what the gateway does.
ROLE_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: SCOPES,
    Role.ENGINEER: _in_order(
        {
            "devices:read",
            "devices:write",
            "telemetry:read",
            "telemetry:write",
            "analytics:read",
            "analytics:write",
        }
    ),
    Role.VIEWER: _in_order({"devices:read", "telemetry:read", "analytics:read"}),
    Role.OPERATOR: (OPERATOR_SCOPE,),
}


@dataclass(frozen=True)
class User:
    id: str
    tenant_id: str | None
    email: str
    name: str
    password_hash: str = field(repr=False)
    role: Role
    status: UserStatus
    version: int
    created_at: datetime
    updated_at: datetime
    # Set at enrolment, effective once confirmed.
    totp_secret: str | None = field(default=None, repr=False)
    totp_confirmed: bool = False
    # The last TOTP time step accepted, so that no code is accepted twice.
    totp_last_step: int | None = None

    @property
    def scopes(self) -> tuple[str, ...]:
        return ROLE_SCOPES[self.role]


@dataclass(frozen=True)
class UserSession:
    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    client_address: str

    @property
    def absolute_expires_at(self) -> datetime:
        return self.created_at + SESSION_ABSOLUTE

    @property
    def idle_expires_at(self) -> datetime:
        return min(self.last_used_at + SESSION_IDLE, self.absolute_expires_at)

    def live_at(self, now: datetime) -> bool:
        return now < self.idle_expires_at

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_used_at >= SESSION_TOUCH


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_violations(email: str, field_name: str = "email") -> list[FieldViolation]:
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        return [FieldViolation(field_name, "not an e-mail address, such as ada@example.com")]
    return []


def password_violations(password: str, email: str, field_name: str = "password") -> list[FieldViolation]:
    """What is wrong with a new password: its length, or being the e-mail address."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return [FieldViolation(field_name, f"between {PASSWORD_MIN} and {PASSWORD_MAX} characters")]
    if password.strip().lower() == normalise_email(email):
        return [FieldViolation(field_name, "must not be the e-mail address")]
    return []


def email_domain(email: str) -> str:
    return normalise_email(email).rpartition("@")[2]


# argon2id with the library's defaults (RFC 9106's low-memory profile); a hash made with
# other parameters is rehashed at the next sign-in.
_HASHER = PasswordHasher()
# Verified against when no user has the e-mail, so that an unknown e-mail costs the
# same time as a wrong password.
_DECOY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; None (no such user) never does, in the same time."""
    try:
        return _HASHER.verify(password_hash or _DECOY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is as safe as a slow one.
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(stored_hash: str, token: str) -> bool:
    return hmac.compare_digest(stored_hash, token_hash(token))


def csrf_secret(session_token: str) -> str:
    """The session's secret for CSRF tokens: derived, so nothing more is stored, and not
    the token itself, which the console keeps only in its cookie."""
    return hmac.new(session_token.encode(), b"gantry-csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Throttle:
    """At most `limit` failures within any `window`: past it, attempts wait until the
    oldest of the last `limit` failures has left the window."""

    limit: int
    window: timedelta

    def retry_after(self, recent_newest_first: list[datetime], now: datetime) -> timedelta | None:
        """How long an attempt must wait, given the failures within the window; None when it may go."""
        if len(recent_newest_first) < self.limit:
            return None
        wait = recent_newest_first[self.limit - 1] + self.window - now
        return wait if wait > timedelta(0) else None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step whose code `code` is (the current one, or one either side for clocks that
    drift), if no later or equal step was accepted before; None otherwise."""
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        fresh = last_step is None or step > last_step
        if fresh and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class SignUpMode(StrEnum):
    OPEN = "open"
    APPROVAL = "approval"
    CLOSED = "closed"


class SignUpStatus(StrEnum):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SignUpPolicy:
    mode: SignUpMode
    per_address: Throttle
    per_domain: Throttle
