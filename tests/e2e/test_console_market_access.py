"""The console's marketplace pages over HTTP on the whole platform, with real sessions: one
tenant's draft listing, order and accounts are another's 404; a viewer, whose role does not
trade, can neither see nor move; stored texts render escaped; wrong fields are named on the
form; every POST route of the marketplace refuses a form without the session's token."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urlencode

import grpc
import httpx
import pytest
from starlette.routing import Route

from services.console.app import create_app
from services.console.settings import ConsoleSettings
from tests.support.console_market import (
    PRODUCT_FORM,
    ConsoleMember,
    account_id,
    order_state,
    pay_in,
)
from tests.support.plant import PlantTenant, console_client, console_url, operator, plant_tenant
from tests.support.platform import Platform

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SETTINGS = ConsoleSettings("127.0.0.1", 0, True, "http://gateway.test/docs", "UTC", "http://console.test")


@pytest.fixture(scope="module")
def registry_channel(platform: Platform) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(platform.grpc_target("registry")) as channel:
        yield channel


@pytest.fixture(scope="module")
def seller_company(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Seller Works")


@pytest.fixture(scope="module")
def buyer_company(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    company = plant_tenant(registry_channel, platform.gateway_url, "Buyer Works")
    pay_in(platform, company, 500_000)
    return company


@pytest.fixture(scope="module")
def seller(platform: Platform, seller_company: PlantTenant) -> Iterator[ConsoleMember]:
    member = ConsoleMember(platform, seller_company.admin)
    yield member
    member.close()


@pytest.fixture(scope="module")
def buyer(platform: Platform, buyer_company: PlantTenant) -> Iterator[ConsoleMember]:
    member = ConsoleMember(platform, buyer_company.admin)
    yield member
    member.close()


@pytest.fixture(scope="module")
def draft(seller: ConsoleMember) -> str:
    return seller.listing(title=f"Draft {XSS}", description=XSS)


@pytest.fixture(scope="module")
def order(seller: ConsoleMember, buyer: ConsoleMember) -> str:
    return buyer.order(seller.published(), quantity=1)


def test_another_tenants_draft_order_and_accounts_are_not_found(
    platform: Platform, registry_channel: grpc.Channel, draft: str, order: str, buyer: ConsoleMember
) -> None:
    outsider = ConsoleMember(
        platform, plant_tenant(registry_channel, platform.gateway_url, "Outsider Works").admin
    )
    account = account_id(buyer.http.get("/market/accounts").text)
    try:
        assert outsider.http.get(f"/market/accounts/{account}").status_code == 404
        assert outsider.http.get(f"/market/listings/{draft}").status_code == 404
        assert outsider.http.get(f"/market/orders/{order}").status_code == 404
        assert outsider.move(order, "cancel").status_code == 404
        assert (
            outsider.post(
                f"/market/listings/{draft}/status", status="published", expected_version="1"
            ).status_code
            == 404
        )
        assert draft not in outsider.http.get("/market/listings").text
        assert order not in outsider.http.get("/market/orders").text
        # The buyer's own pages show them, and the cancel above changed nothing.
        assert "CN¥5,000.00" in buyer.http.get(f"/market/accounts/{account}").text
        assert order_state(buyer.http.get(f"/market/orders/{order}").text) == "Placed"
    finally:
        outsider.close()


def test_a_viewer_cannot_see_the_market_nor_move_an_order(
    platform: Platform, buyer_company: PlantTenant, buyer: ConsoleMember, order: str
) -> None:
    viewer = ConsoleMember(platform, buyer_company.viewer)
    try:
        assert viewer.http.get("/market/orders").status_code == 403
        assert viewer.http.get(f"/market/orders/{order}").status_code == 403
        assert viewer.move(order, "fund").status_code == 403
        assert viewer.post("/market/listings", title="nope").status_code == 403
        # The platform's figures are the API's to any reader.
        assert viewer.http.get("/market/figures").status_code == 200
        assert "/market/listings" not in viewer.http.get("/market/figures").text
    finally:
        viewer.close()
    assert order_state(buyer.http.get(f"/market/orders/{order}").text) == "Placed"


def test_listing_texts_render_escaped(seller: ConsoleMember, buyer: ConsoleMember, draft: str) -> None:
    published = seller.published(title=f"Bearing {XSS}", description=XSS)
    pages = [
        seller.http.get(f"/market/listings/{draft}").text,
        seller.http.get("/market/listings/mine").text,
        buyer.http.get(f"/market/listings/{published}").text,
        buyer.http.get("/market/listings", params={"q": "Bearing <script>"}).text,
    ]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html
    assert XSS in unescape(pages[2])


def test_wrong_fields_are_named_on_the_form(seller: ConsoleMember) -> None:
    def marked(price: str) -> tuple[set[str], str]:
        wrong = PRODUCT_FORM | {"title": "", "price": price, "ship_from": "China"}
        answer = seller.post("/market/listings", **wrong)
        assert answer.status_code == 400
        return set(re.findall(r'id="([a-z_]+)" name="\1"[^>]*aria-invalid="true"', answer.text)), answer.text

    # A price of more decimals than the currency has is the console's to refuse.
    assert marked("12.345")[0] == {"price"}
    assert marked("1e30")[0] == {"price"}
    # What the console reads it sends; the marketplace names the rest.
    fields, html = marked("12.34")
    assert fields == {"title", "ship_from"}, fields
    assert 'value="12.34"' in html


def test_an_order_moves_only_as_its_party_may(seller: ConsoleMember, buyer: ConsoleMember) -> None:
    order = buyer.order(seller.published(price="100.00"), quantity=3)
    page = buyer.http.get(f"/market/orders/{order}").text
    assert "CN¥300.00" in page
    assert set(re.findall(rf'action="/market/orders/{order}/([a-z-]+)"', page)) == {"fund", "cancel"}
    # The seller may not pay, nor make a move the state forbids; the order stays as it was.
    assert seller.move(order, "fund").status_code == 409
    assert seller.move(order, "ship").status_code == 409
    assert seller.move(order, "teleport").status_code == 404
    assert buyer.move(order, "fund").status_code == 303
    seller_page = seller.http.get(f"/market/orders/{order}").text
    assert order_state(seller_page) == "Paid into escrow"
    assert set(re.findall(rf'action="/market/orders/{order}/([a-z-]+)"', seller_page)) == {
        "accept",
        "cancel",
        "dispute",
    }


def test_every_market_post_route_refuses_a_missing_or_wrong_token(
    platform: Platform, seller: ConsoleMember, buyer: ConsoleMember, order: str, draft: str
) -> None:
    app = create_app(SETTINGS).app  # type: ignore[attr-defined]
    paths = [
        route.path
        for route in app.routes
        if isinstance(route, Route)
        and "POST" in (route.methods or set())
        and route.path.startswith("/market/")
    ]
    assert len(paths) >= 8
    ids = {"order_id": order, "listing_id": draft, "rfq_id": str(uuid.uuid4()), "quote_id": str(uuid.uuid4())}
    for path in paths:
        concrete = re.sub(r"\{(\w+)\}", lambda name: ids.get(name[1], "fund"), path)
        for fields in ({}, {"csrf_token": "forged"}):
            answer = buyer.http.post(concrete, data={"reason": "x", **fields})
            assert answer.status_code == 403, f"{concrete} with {fields}: {answer.status_code}"
    assert order_state(buyer.http.get(f"/market/orders/{order}").text) == "Placed"


def test_an_operator_sees_the_figures_but_trades_nothing(
    platform: Platform, registry_channel: grpc.Channel
) -> None:
    with console_client(console_url(platform), operator(registry_channel)) as client:
        assert client.get("/market/orders").status_code == 403
        figures = client.get("/market/figures")
        assert figures.status_code == 200
        assert 'id="registered-companies"' in figures.text


def test_pages_need_a_session(platform: Platform) -> None:
    answer = httpx.get(f"{console_url(platform)}/market/orders")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fmarket%2Forders"


def test_the_catalogue_pages_by_the_marketplaces_cursor_with_its_filters(
    seller: ConsoleMember, buyer: ConsoleMember
) -> None:
    word = uuid.uuid4().hex[:8]
    titles = [f"Flange {word} {n:02d}" for n in range(30)]
    for n, title in enumerate(titles):
        seller.published(title=title, price=f"{10 + n}.00")

    def every_page(**filters: str) -> list[str]:
        seen: list[str] = []
        url: str | None = "/market/listings?" + urlencode({"q": word, "order_by": "price", **filters})
        while url:
            page = buyer.http.get(url)
            assert page.status_code == 200
            seen += re.findall(rf">(Flange {word} \d\d)</a>", page.text)
            found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
            url = unescape(found[1]) if found else None
        return seen

    assert every_page() == titles
    assert every_page(currency="CNY", min_price="15", max_price="19.99") == titles[5:10]
    assert every_page(currency="USD") == []


def test_machine_hours_are_opened_by_the_seller_and_booked_by_the_buyer(
    seller_company: PlantTenant, seller: ConsoleMember, buyer: ConsoleMember
) -> None:
    device = seller_company.partner.register_device()
    capacity = {"kind": "capacity", "unit": "hour", "price": "180.00", "device_id": device["id"], "stock": ""}
    listing = seller.published(title="VMC-850 machine-hours", category="cnc_machining", **capacity)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert seller.moved(
        f"/market/listings/{listing}/hours", start=f"{tomorrow}T08:00", end=f"{tomorrow}T12:00"
    )
    assert seller.post(f"/market/listings/{listing}/hours", start="soon", end="").status_code == 400

    def free_hours() -> list[str]:
        return re.findall(r'<option value="(\d+)">', buyer.http.get(f"/market/listings/{listing}").text)

    hours = free_hours()
    assert len(hours) == 4 and int(hours[1]) - int(hours[0]) == 3600
    order = buyer.moved(
        f"/market/listings/{listing}/orders",
        first_slot=hours[1],
        quantity="2",
        reason="PO-77",
        idempotency_key=uuid.uuid4().hex,
    )
    assert "CN¥360.00" in buyer.http.get(order).text
    assert free_hours() == [hours[0], hours[3]]
    # Hours not all free are the marketplace's refusal, told on the page.
    taken = buyer.post(
        f"/market/listings/{listing}/orders",
        first_slot=hours[0],
        quantity="2",
        reason="PO-78",
        idempotency_key=uuid.uuid4().hex,
    )
    assert taken.status_code == 409


def test_a_quote_withdrawn_and_an_rfq_cancelled(seller: ConsoleMember, buyer: ConsoleMember) -> None:
    rfq = {"title": "Castings", "category": "casting", "quantity": "40", "unit": "piece", "currency": "CNY"}
    past = buyer.post("/market/rfqs", **rfq, deadline="2020-01-01")
    assert past.status_code == 400 and 'id="deadline" name="deadline"' in past.text
    assert re.search(r'id="deadline" name="deadline"[^>]*aria-invalid="true"', past.text)
    soon = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    rfq_page = buyer.moved("/market/rfqs", **rfq, deadline=soon)
    rfq_id = rfq_page.rsplit("/", 1)[-1]
    assert rfq_id in seller.http.get("/market/rfqs", params={"category": "casting"}).text
    valid = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    assert seller.moved(f"{rfq_page}/quotes", currency="CNY", price="18000", valid_until=valid) == rfq_page
    quote_id = re.findall(r'<tr id="quote-([0-9a-f-]+)">', seller.http.get(rfq_page).text)[0]
    # The buyer cannot withdraw the seller's quote; the seller can.
    assert buyer.post(f"{rfq_page}/quotes/{quote_id}/withdraw").status_code == 404
    assert seller.moved(f"{rfq_page}/quotes/{quote_id}/withdraw") == rfq_page
    assert "Withdrawn" in buyer.http.get(rfq_page).text
    assert buyer.moved(f"{rfq_page}/cancel") == rfq_page
    assert re.search(r'<dd id="rfq-status">Cancelled</dd>', buyer.http.get(rfq_page).text)
    assert buyer.post(f"{rfq_page}/cancel").status_code == 409


def test_money_is_paid_out_of_the_available_balance_alone(buyer: ConsoleMember) -> None:
    account = account_id(buyer.http.get("/market/accounts").text)

    def pay_out(amount: str) -> httpx.Response:
        return buyer.post(
            "/market/accounts/withdrawals",
            currency="CNY",
            amount=amount,
            reason="to our bank",
            idempotency_key=uuid.uuid4().hex,
        )

    assert pay_out("12.34").status_code == 303
    newest = re.search(
        r'<td class="money change">([^<]+)</td>', buyer.http.get(f"/market/accounts/{account}").text
    )
    assert newest and newest[1] == "-CN¥12.34"
    refused = pay_out("99999999")
    assert refused.status_code == 409 and 'role="alert"' in refused.text
    assert pay_out("0.001").status_code == 400


def test_lists_refuse_filters_they_cannot_be(buyer: ConsoleMember) -> None:
    assert buyer.http.get("/market/listings", params={"kind": "magic"}).status_code == 400
    assert buyer.http.get("/market/listings", params={"max_price": "cheap"}).status_code == 400
    assert buyer.http.get("/market/listings", params={"cursor": "not-a-cursor"}).status_code == 400
    assert buyer.http.get("/market/listings/mine", params={"status": "lost"}).status_code == 400
    assert buyer.http.get("/market/orders/not-a-uuid").status_code == 404
