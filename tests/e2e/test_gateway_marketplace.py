"""The marketplace through the partner API on the whole platform: trading from deposit to
completion, RFQs, machine-hours, the platform's figures, and every refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.client import PartnerClient
from tests.support.marketplace import COMPLETED_ORDER_STATES
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually

PRICE = 1_499


def keyed(key: str | None = None) -> dict[str, str]:
    return {"Idempotency-Key": key or str(uuid.uuid4())}


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Trader(PartnerClient):
    """A tenant of the platform trading through the gateway."""

    def __init__(self, base_url: str, api_key: str, tenant_id: str) -> None:
        super().__init__(base_url, api_key)
        self.id = tenant_id

    def ok(self, method: str, path: str, status: int = 200, **options: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **options)
        assert response.status_code == status, response.text
        return response.json()

    def publish(self, listing: dict[str, Any]) -> dict[str, Any]:
        return self.ok(
            "POST",
            f"/v1/listings/{listing['id']}/status",
            json={"status": "published"},
            headers={"If-Match": f'"{listing["version"]}"'},
        )

    def product(self, price: int = PRICE, stock: int = 10) -> dict[str, Any]:
        body = {
            "kind": "product",
            "title": f"Spindle bearing {uuid.uuid4().hex[:6]}",
            "category": "parts",
            "price": price,
            "unit": "piece",
            "ship_from": "CN-32",
            "stock": stock,
        }
        return self.publish(self.ok("POST", "/v1/listings", 201, json=body))

    def order(
        self, listing: dict[str, Any], quantity: int, key: str | None = None, **extra: Any
    ) -> httpx.Response:
        body = {"listing_id": listing["id"], "quantity": quantity, "reason": "purchase order", **extra}
        return self.http.post("/v1/orders", json=body, headers=keyed(key))

    def placed(self, listing: dict[str, Any], quantity: int, **extra: Any) -> dict[str, Any]:
        response = self.order(listing, quantity, **extra)
        assert response.status_code == 201, response.text
        return response.json()

    def move(self, order: dict[str, Any], action: str, status: int = 200) -> dict[str, Any]:
        return self.ok(
            "POST", f"/v1/orders/{order['id']}/{action}", status, json={"reason": action}, headers=keyed()
        )

    def spendable(self) -> dict[str, int]:
        return {
            f"{a['currency']}:{a['kind']}": a["spendable"] for a in self.ok("GET", "/v1/accounts")["items"]
        }


@pytest.fixture(scope="module")
def operator(platform: Platform) -> PartnerClient:
    return PartnerClient(platform.gateway_url, OPERATOR_TOKEN)


def new_trader(platform: Platform, operator: PartnerClient, country: str = "CN") -> Trader:
    tenant = operator.create_tenant(f"Trader {uuid.uuid4().hex[:6]}", country)
    return Trader(platform.gateway_url, tenant["api_key"], tenant["id"])


def deposit(operator: PartnerClient, trader: Trader, amount: int, currency: str = "CNY") -> httpx.Response:
    body = {
        "credit_tenant_id": trader.id,
        "currency": currency,
        "amount": amount,
        "reason": "bank transfer 7781",
    }
    return operator.http.post("/v1/accounts/deposits", json=body, headers=keyed())


@pytest.fixture(scope="module")
def seller(platform: Platform, operator: PartnerClient) -> Trader:
    return new_trader(platform, operator)


@pytest.fixture
def buyer(platform: Platform, operator: PartnerClient) -> Trader:
    trader = new_trader(platform, operator, "DE")
    assert deposit(operator, trader, 100_000).status_code == 201
    return trader


def test_a_product_is_bought_from_deposit_to_completion_exact_to_the_fen(
    operator: PartnerClient, seller: Trader, buyer: Trader
) -> None:
    before = operator.http.get("/v1/accounts").json()["items"]
    listing = seller.product()
    found = buyer.ok("GET", "/v1/listings", params={"text": listing["title"].upper(), "ship_from": "CN"})
    assert [item["id"] for item in found["items"]] == [listing["id"]]

    order = buyer.placed(listing, 7)
    assert (order["state"], order["total"], order["fee"]) == ("placed", 10_493, 209)
    # Each party is told the moves it may make now, the operator those of neither.
    assert buyer.ok("GET", f"/v1/orders/{order['id']}")["moves"] == ["funded", "cancelled"]
    assert seller.ok("GET", f"/v1/orders/{order['id']}")["moves"] == ["cancelled"]
    assert operator.http.get(f"/v1/orders/{order['id']}").json()["moves"] == []
    assert buyer.move(order, "fund")["state"] == "funded"
    assert buyer.spendable() == {"CNY:available": 100_000 - 10_493, "CNY:escrow": 0}
    for action, who in (
        ("accept", seller),
        ("start-production", seller),
        ("ship", seller),
        ("deliver", buyer),
    ):
        who.move(order, action)
    assert buyer.move(order, "complete")["state"] == "completed"

    assert buyer.spendable() == {"CNY:available": 89_507, "CNY:escrow": 0}
    assert seller.spendable() == {"CNY:available": 10_493 - 209}
    fees = {
        a["kind"]: a["balance"]
        for a in operator.http.get("/v1/accounts").json()["items"]
        if a["currency"] == "CNY"
    }
    fees_before = {a["kind"]: a["balance"] for a in before if a["currency"] == "CNY"}
    assert fees["fee_revenue"] - fees_before.get("fee_revenue", 0) == 209
    assert operator.http.get("/v1/accounts/check").json() == {"balanced": True, "imbalances": []}

    detail = seller.ok("GET", f"/v1/orders/{order['id']}")
    assert [(line["quantity"], line["unit_price"], line["amount"]) for line in detail["lines"]] == [
        (7, PRICE, 10_493)
    ]
    assert [change["to_state"] for change in detail["history"]] == COMPLETED_ORDER_STATES
    assert (
        detail["history"][0]["from_state"] is None and detail["history"][-1]["actor"] == f"tenant:{buyer.id}"
    )
    assert operator.http.get(f"/v1/orders/{order['id']}").json()["state"] == "completed"
    assert [o["id"] for o in buyer.ok("GET", "/v1/orders")["items"]] == [order["id"]]


def test_an_rfq_is_quoted_and_its_quote_accepted_as_an_order(seller: Trader, buyer: Trader) -> None:
    deadline = rfc3339(datetime.now(UTC) + timedelta(days=14))
    rfq = buyer.ok(
        "POST",
        "/v1/rfqs",
        201,
        json={
            "category": "cnc_machining",
            "title": "200 flanges, 6061-T6",
            "quantity": 200,
            "unit": "piece",
            "deadline": deadline,
        },
    )
    assert rfq["id"] in [
        r["id"]
        for r in seller.ok("GET", "/v1/rfqs", params={"category": "cnc_machining", "limit": 1000})["items"]
    ]
    valid_until = rfc3339(datetime.now(UTC) + timedelta(days=7))
    quote = seller.ok(
        "POST",
        f"/v1/rfqs/{rfq['id']}/quotes",
        201,
        json={"price": 64_000, "lead_time_days": 12, "valid_until": valid_until},
    )
    assert [q["id"] for q in buyer.ok("GET", f"/v1/rfqs/{rfq['id']}")["quotes"]] == [quote["id"]]
    order = buyer.ok(
        "POST", f"/v1/quotes/{quote['id']}/accept", 201, json={"reason": "best offer"}, headers=keyed()
    )
    assert (order["total"], order["quote_id"], order["seller_id"]) == (64_000, quote["id"], seller.id)
    assert buyer.ok("GET", f"/v1/rfqs/{rfq['id']}")["status"] == "awarded"
    assert [r["id"] for r in buyer.ok("GET", "/v1/rfqs/mine")["items"]] == [rfq["id"]]


def test_machine_hours_are_opened_and_booked_once(seller: Trader, buyer: Trader) -> None:
    device = seller.register_device()
    body = {
        "kind": "capacity",
        "title": "5-axis machining centre hours",
        "category": "cnc_machining",
        "price": 18_000,
        "unit": "hour",
        "ship_from": "CN-32",
        "device_id": device["id"],
    }
    listing = seller.publish(seller.ok("POST", "/v1/listings", 201, json=body))
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    period = {"start": rfc3339(start), "end": rfc3339(start + timedelta(hours=4))}
    assert seller.ok("POST", f"/v1/listings/{listing['id']}/availability", json=period) == {"opened": 4}
    hours = [
        slot["starts_at"]
        for slot in buyer.ok("GET", f"/v1/listings/{listing['id']}/slots", params=period)["items"]
    ]
    assert len(hours) == 4
    buyer.placed(listing, 2, slots=hours[:2])
    taken = buyer.order(listing, 1, slots=hours[1:2])
    assert taken.status_code == 409, taken.text
    left = buyer.ok("GET", f"/v1/listings/{listing['id']}/slots", params=period)["items"]
    assert [slot["starts_at"] for slot in left] == hours[2:]


def test_a_retried_order_has_one_effect_and_a_reused_key_is_refused(seller: Trader, buyer: Trader) -> None:
    listing = seller.product()
    answers = [buyer.order(listing, 2, "po-2") for _ in range(2)]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[1].json() == answers[0].json()
    assert buyer.ok("GET", f"/v1/listings/{listing['id']}")["stock"] == 8
    reused = buyer.order(listing, 3, "po-2")
    assert reused.status_code == 422 and reused.json()["type"] == "urn:gantry:problem:idempotency-key-reused"
    unkeyed = buyer.http.post("/v1/orders", json={"listing_id": listing["id"], "quantity": 2, "reason": "x"})
    assert (
        unkeyed.status_code == 400 and unkeyed.json()["type"] == "urn:gantry:problem:idempotency-key-required"
    )


def test_the_platform_figures_count_companies_and_completed_trade(
    platform: Platform, operator: PartnerClient, seller: Trader
) -> None:
    before = operator.http.get("/v1/marketplace/stats").json()
    buyer = new_trader(platform, operator, "US")
    deposit(operator, buyer, 5_000, "USD")
    listing = seller.publish(
        seller.ok(
            "POST",
            "/v1/listings",
            201,
            json={
                "kind": "capability",
                "title": "Anodising",
                "category": "testing",
                "price": 2_000,
                "currency": "USD",
                "unit": "piece",
                "ship_from": "CN",
            },
        )
    )
    order = buyer.placed(listing, 1)
    for action, who in (
        ("fund", buyer),
        ("accept", seller),
        ("start-production", seller),
        ("ship", seller),
        ("deliver", buyer),
        ("complete", buyer),
    ):
        who.move(order, action)

    def figures() -> dict[str, Any] | None:
        stats = buyer.ok("GET", "/v1/marketplace/stats")
        grew = stats["registered_companies"] > before["registered_companies"]
        return stats if grew and stats["companies_abroad"] > before["companies_abroad"] else None

    stats = eventually(figures, what="the new company in the figures")
    usd = {f["currency"]: f for f in stats["totals"]}["USD"]
    usd_before = {f["currency"]: f for f in before["totals"]}.get("USD", {"completed_orders": 0, "amount": 0})
    assert (
        usd["completed_orders"] - usd_before["completed_orders"],
        usd["amount"] - usd_before["amount"],
    ) == (1, 2_000)
    today = stats["days"][-1]
    assert today["day"] == stats["to_day"] and "USD" in [f["currency"] for f in today["currencies"]]
    assert stats["home_country"] == "CN"


def test_money_and_orders_refuse_what_they_must(
    platform: Platform, operator: PartnerClient, seller: Trader, buyer: Trader
) -> None:
    listing = seller.product(price=60_000)
    order = buyer.placed(listing, 2)
    broke = buyer.http.post(f"/v1/orders/{order['id']}/fund", json={"reason": "pay"}, headers=keyed())
    assert broke.status_code == 409 and broke.json()["type"] == "urn:gantry:problem:insufficient-funds", (
        broke.text
    )
    # Its escrow account is opened, empty, before the payment is refused.
    assert buyer.spendable() == {"CNY:available": 100_000, "CNY:escrow": 0}

    own = seller.order(listing, 1)
    assert own.status_code == 409  # buying from oneself
    for amount in (0, -5, 2**63, 1.5, "100"):
        bad = deposit(operator, buyer, amount)  # type: ignore[arg-type]
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "amount", bad.text
    wrong_currency = deposit(operator, buyer, 5, "XYZ")
    assert wrong_currency.status_code == 422 and wrong_currency.json()["errors"][0]["field"] == "currency"
    assert buyer.http.post("/v1/accounts/deposits", json={}, headers=keyed()).status_code == 403
    overdraw = buyer.http.post(
        "/v1/accounts/withdrawals",
        json={"currency": "CNY", "amount": 100_001, "reason": "out"},
        headers=keyed(),
    )
    assert overdraw.status_code == 409 and overdraw.json()["type"] == "urn:gantry:problem:insufficient-funds"
    assert buyer.spendable() == {"CNY:available": 100_000, "CNY:escrow": 0}

    stranger = new_trader(platform, operator)
    assert stranger.http.get(f"/v1/orders/{order['id']}").status_code == 404
    assert (
        stranger.http.post(
            f"/v1/orders/{order['id']}/cancel", json={"reason": "x"}, headers=keyed()
        ).status_code
        == 404
    )
    assert (
        buyer.http.post(
            f"/v1/orders/{order['id']}/complete", json={"reason": "x"}, headers=keyed()
        ).status_code
        == 409
    )
    ruling = buyer.http.post(
        f"/v1/orders/{order['id']}/resolve", json={"refund": 0, "reason": "x"}, headers=keyed()
    )
    assert ruling.status_code == 403

    stale = seller.http.patch(f"/v1/listings/{listing['id']}", json={"price": 1}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    current = seller.ok(
        "PATCH", f"/v1/listings/{listing['id']}", json={"price": 2}, headers={"If-Match": "*"}
    )
    assert current["price"] == 2 and current["version"] > listing["version"]
    draft = seller.ok("POST", "/v1/listings", 201, json={**_product_body(), "title": "Unpublished"})
    assert stranger.http.get(f"/v1/listings/{draft['id']}").status_code == 404
    reader = stranger.ok("POST", "/v1/api-keys", 201, json={"name": "reader", "scopes": ["devices:read"]})
    readonly = PartnerClient(platform.gateway_url, reader["secret"])
    assert readonly.http.get("/v1/listings").status_code == 403


def _product_body() -> dict[str, Any]:
    return {
        "kind": "product",
        "title": "Collet",
        "category": "parts",
        "price": 300,
        "unit": "piece",
        "ship_from": "CN",
        "stock": 5,
    }


def test_an_accounts_ledger_entries_are_its_owners_alone(
    platform: Platform, operator: PartnerClient, seller: Trader, buyer: Trader
) -> None:
    [available] = [a for a in buyer.ok("GET", "/v1/accounts")["items"] if a["kind"] == "available"]
    entries = buyer.ok("GET", f"/v1/accounts/{available['id']}/transfers", params={"limit": 10})
    assert [(t["code"], t["amount"], t["credit_account_id"]) for t in entries["items"]] == [
        ("deposit", 100_000, available["id"])
    ]
    assert entries["next_cursor"] == ""
    assert seller.http.get(f"/v1/accounts/{available['id']}/transfers").status_code == 404
    platform_accounts = operator.http.get("/v1/accounts").json()["items"]
    [external] = [a for a in platform_accounts if a["kind"] == "external" and a["currency"] == "CNY"]
    assert operator.http.get(f"/v1/accounts/{external['id']}/transfers").status_code == 200
    assert operator.http.get(f"/v1/accounts/{available['id']}/transfers").status_code == 404
