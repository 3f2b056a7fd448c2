"""Checks of people's input (e-mail addresses, names, passwords, roles, client addresses,
tokens), every violation of a request reported at once."""

from __future__ import annotations

import ipaddress

from marshmallow import Schema

from services.kit.errors import FieldViolation, InvalidArgument, Unauthenticated
from services.kit.validation import load, text
from services.registry.domain_people import (
    TENANT_ROLES,
    Role,
    email_violations,
    normalise_email,
    password_violations,
)

# Longer than any token issued: refused before any lookup.
MAX_TOKEN_LENGTH = 128
# Bounds the cost of hashing what a caller sends as a password at sign-in.
MAX_PRESENTED_PASSWORD = 1024


class NameSchema(Schema):
    name = text(200)


def name_violations(name: str, field: str = "name") -> list[FieldViolation]:
    try:
        load(NameSchema(), {"name": name})
    except InvalidArgument as error:
        return [FieldViolation(field, v.description) for v in error.violations]
    return []


def role_violations(role: Role | None, field: str = "role") -> list[FieldViolation]:
    if role not in TENANT_ROLES:
        return [FieldViolation(field, "one of ROLE_ADMIN, ROLE_ENGINEER, ROLE_VIEWER")]
    return []


def address_violations(address: str, field: str = "client_address") -> list[FieldViolation]:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return [FieldViolation(field, "the IP address the person calls from, such as 203.0.113.7")]
    return []


def person_violations(email: str, name: str, password: str, prefix: str = "") -> list[FieldViolation]:
    normalised = normalise_email(email)
    return (
        email_violations(normalised, f"{prefix}email")
        + name_violations(name, f"{prefix}name")
        + password_violations(password, normalised)
    )


def new_person(email: str, name: str, password: str) -> str:
    """The normalised e-mail of a new person whose name and password pass; every violation at once."""
    require(person_violations(email, name, password))
    return normalise_email(email)


def require(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument(violations)


def presented_token(token: str, refusal: str) -> str:
    """A token as presented, or Unauthenticated with `refusal` when it cannot be one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated(refusal)
    return token


def sign_in_input(email: str, password: str, client_address: str) -> str:
    normalised = normalise_email(email)
    violations = email_violations(normalised) + address_violations(client_address)
    if not 1 <= len(password) <= MAX_PRESENTED_PASSWORD:
        violations.append(FieldViolation("password", f"between 1 and {MAX_PRESENTED_PASSWORD} characters"))
    require(violations)
    return normalised
