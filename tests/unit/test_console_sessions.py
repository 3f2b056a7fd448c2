"""A signed-in person's scopes and CSRF token, as the console applies them."""

from __future__ import annotations

import pytest
from gantry.v1 import people_pb2
from starlette.exceptions import HTTPException

from services.console.sessions import check_csrf, csrf_token, principal_of


def principal(role: int, scopes: list[str], tenant_id: str = "tenant-1") -> people_pb2.Principal:
    user = people_pb2.User(id="user-1", tenant_id=tenant_id, email="li@example.com", name="Li", role=role)
    return people_pb2.Principal(
        session_id="session-1", user=user, tenant_id=tenant_id, role=role, scopes=scopes, csrf_secret="secret"
    )


def test_a_role_allows_what_its_scopes_allow_in_the_api() -> None:
    viewer = principal_of(principal(people_pb2.ROLE_VIEWER, ["devices:read", "telemetry:read"]))
    assert viewer.allows("devices:read") and not viewer.allows("devices:write")
    admin = principal_of(principal(people_pb2.ROLE_ADMIN, ["admin"]))
    assert admin.allows("devices:write") and not admin.allows("operator")
    operator = principal_of(principal(people_pb2.ROLE_OPERATOR, ["operator"], tenant_id=""))
    assert operator.is_operator and operator.allows("devices:write")
    assert viewer.actor() == people_pb2.Actor(tenant_id="tenant-1", user_id="user-1")


def test_a_form_carries_its_sessions_token_and_no_other() -> None:
    signed_in = principal_of(principal(people_pb2.ROLE_ADMIN, ["admin"]))
    assert signed_in.csrf_token == csrf_token("secret", "session-1") != csrf_token("secret", "session-2")
    check_csrf(signed_in, signed_in.csrf_token)
    for forged in ("", "0" * 64, csrf_token("other", "session-1")):
        with pytest.raises(HTTPException) as refused:
            check_csrf(signed_in, forged)
        assert refused.value.status_code == 403
