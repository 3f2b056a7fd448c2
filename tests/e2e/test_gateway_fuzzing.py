"""The partner API fuzzed from its own OpenAPI document (schemathesis): whatever it is
sent, valid or not, it answers no 5xx, and only documented status codes, content
types and bodies."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.gateway import openapi
from services.gateway.app import ENDPOINTS
from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform

MAX_PATH_VALUES = 2048
# Headers that frame the HTTP message: a malformed one (a Content-Length of "b") is refused
# by the HTTP server itself (400, text/plain) before any route sees the request.
FRAMING_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "host", "connection", "upgrade", "expect", "te"}
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [
    result.ok() for result in schemathesis.openapi.from_dict(openapi.build(ENDPOINTS)).get_all_operations()
]


@pytest.fixture(scope="module")
def admin_key(platform: Platform) -> str:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    return operator.create_tenant("Fuzzed Ltd")["api_key"]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_input_breaks_the_contract(operation: object, platform: Platform, admin_key: str) -> None:
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),  # type: ignore[attr-defined]
        operation.as_strategy(GenerationMode.NEGATIVE),  # type: ignore[attr-defined]
    )

    @given(case=cases)
    @settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    def answers_within_the_contract(case: schemathesis.Case) -> None:
        # Request lines of many kilobytes are refused by the HTTP server itself
        # (400, text/plain) before any route sees them.
        assume(sum(len(str(value)) for value in (case.path_parameters or {}).values()) <= MAX_PATH_VALUES)
        assume(not FRAMING_HEADERS & {name.lower() for name in case.headers or {}})
        headers = {"Authorization": f"Bearer {admin_key}"}
        case.call_and_validate(base_url=platform.gateway_url, headers=headers, checks=CHECKS)

    answers_within_the_contract()
