"""Companies trading through the console's marketplace pages on the running platform: a
tenant with people signed in (tests/support/plant.py), its money paid in by the operator
through the gateway, and the console's forms posted as a browser posts them."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.support.client import PartnerClient
from tests.support.plant import PlantTenant, SignedIn, console_client, console_url
from tests.support.platform import OPERATOR_TOKEN, Platform

PRODUCT_FORM = {
    "kind": "product",
    "title": "Spindle bearing 7014",
    "description": "Angular contact, P4.",
    "category": "parts",
    "currency": "CNY",
    "price": "1234.56",
    "unit": "piece",
    "min_order_quantity": "1",
    "lead_time_days": "5",
    "ship_from": "CN-32",
    "stock": "10",
}


def pay_in(platform: Platform, tenant: PlantTenant, amount: int, currency: str = "CNY") -> None:
    """The operator records money the tenant paid into the platform."""
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    body = {
        "credit_tenant_id": tenant.tenant_id,
        "currency": currency,
        "amount": amount,
        "reason": "bank transfer",
    }
    answer = operator.http.post(
        "/v1/accounts/deposits", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert answer.status_code == 201, answer.text


class ConsoleMember:
    """A signed-in person's browser, as forms post: the session cookie and its CSRF token."""

    def __init__(self, platform: Platform, member: SignedIn) -> None:
        self.member = member
        self.http: httpx.Client = console_client(console_url(platform), member)

    def post(self, path: str, **fields: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.member.csrf_token, **fields})

    def moved(self, path: str, **fields: Any) -> str:
        """Posts a form that answers with a redirect, and gives where it goes."""
        answer = self.post(path, **fields)
        assert answer.status_code == 303, f"{path}: {answer.status_code} {answer.text[:2000]}"
        return answer.headers["location"]

    def listing(self, **changes: str) -> str:
        """A product listing drafted through the console's form; its id."""
        where = self.moved("/market/listings", **(PRODUCT_FORM | changes))
        return where.rsplit("/", 1)[-1]

    def published(self, **changes: str) -> str:
        listing_id = self.listing(**changes)
        self.moved(f"/market/listings/{listing_id}/status", status="published", expected_version="1")
        return listing_id

    def order(self, listing_id: str, quantity: int = 2) -> str:
        where = self.moved(
            f"/market/listings/{listing_id}/orders",
            quantity=str(quantity),
            reason="PO-4711",
            idempotency_key=uuid.uuid4().hex,
        )
        return where.rsplit("/", 1)[-1]

    def move(self, order_id: str, move: str) -> httpx.Response:
        return self.post(f"/market/orders/{order_id}/{move}", reason=move, idempotency_key=uuid.uuid4().hex)

    def close(self) -> None:
        self.http.close()


def order_state(html: str) -> str:
    found = re.search(r'<dd id="order-state">([^<]*)</dd>', html)
    assert found, "the order page shows its state"
    return found[1]


def account_id(html: str, kind: str = "available", currency: str = "CNY") -> str:
    """The id of an account of the accounts page, from its link to its entries."""
    found = re.search(
        rf'<tr id="account-{kind}-{currency}">\s*<td><a href="/market/accounts/([0-9a-f-]+)"', html
    )
    assert found, f"the accounts page lists the {kind} account in {currency}"
    return found[1]
