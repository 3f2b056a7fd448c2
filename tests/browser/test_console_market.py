"""The marketplace pages in a browser, on the whole platform, two companies signed in with
real sessions: the seller drafts and publishes a listing, the buyer finds and orders it,
pays into escrow, the seller moves it on, the buyer completes it, and both sides' balances
and ledger entries show the amounts exact to the fen; an RFQ quoted and accepted; Chinese."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import grpc
import pytest
from babel import Locale
from playwright.sync_api import Page, expect

from services.console.formatting import money
from tests.browser.conftest import check_page, console_url, signed_in
from tests.support.console_market import pay_in
from tests.support.plant import PlantTenant, plant_tenant
from tests.support.platform import Platform

PAID_IN = 1_000_000  # fen: CN¥10,000.00
ENGLISH = Locale.parse("en")


@pytest.fixture(scope="module")
def companies(platform: Platform) -> Iterator[tuple[PlantTenant, PlantTenant]]:
    with grpc.insecure_channel(platform.grpc_target("registry")) as channel:
        seller = plant_tenant(channel, platform.gateway_url, "Suzhou Spindles")
        buyer = plant_tenant(channel, platform.gateway_url, "Hamburg Machines")
    pay_in(platform, buyer, PAID_IN)
    yield seller, buyer


def cny(minor_units: int) -> str:
    return money(minor_units, "CNY", ENGLISH)


def move(page: Page, name: str, state: str) -> None:
    page.get_by_role("button", name=name).click()
    expect(page.locator("#order-state")).to_have_text(state)


def draft_and_publish(page: Page, title: str) -> None:
    page.get_by_role("link", name="My listings").click()
    page.get_by_role("link", name="Draft a listing").click()
    page.get_by_label("Kind").select_option("product")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Angular contact bearing, P4, for 80 mm spindles.")
    page.get_by_label("Category").select_option("parts")
    page.get_by_label("Price per unit").fill("1,234.56")
    page.get_by_label("Ships from (CN, CN-32)").fill("CN-32")
    page.get_by_label("Stock (products)").fill("10")
    check_page(page, "console-market-listing-new-en")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("#listing-status")).to_have_text("Draft")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#listing-status")).to_have_text("Published")
    check_page(page, "console-market-listing-en")


def entries(page: Page, column: str = "change") -> list[str]:
    """The ledger page's amounts of a column, newest first."""
    return [text.strip() for text in page.locator(f"#entries td.{column}").all_inner_texts()]


def test_a_product_is_sold_from_listing_to_completion_exact_to_the_fen(
    open_page: Callable[[str], Page], platform: Platform, companies: tuple[PlantTenant, PlantTenant]
) -> None:
    seller_company, buyer_company = companies
    title = f"Spindle bearing {uuid.uuid4().hex[:6]}"
    seller = signed_in(open_page("en-US"), platform, seller_company.admin.session_token)
    buyer = signed_in(open_page("en-US"), platform, buyer_company.admin.session_token)
    seller.goto(f"{console_url(platform)}/market/listings")
    check_page(seller, "console-market-catalogue-en")
    draft_and_publish(seller, title)

    buyer.goto(f"{console_url(platform)}/market/listings")
    buyer.get_by_label("Title contains").fill(title)
    buyer.get_by_role("button", name="Filter").click()
    buyer.get_by_role("link", name=title).click()
    expect(buyer.locator("#listing-price")).to_have_text(f"{cny(123_456)} / piece")
    buyer.get_by_label("Quantity").fill("2")
    buyer.get_by_label("Your reference (purchase order)").fill("PO-2026-118")
    buyer.get_by_role("button", name="Place the order").click()
    expect(buyer.locator("#order-state")).to_have_text("Placed")
    expect(buyer.locator("#order-total")).to_have_text(cny(246_912))
    check_page(buyer, "console-market-order-en")
    move(buyer, "Pay into escrow", "Paid into escrow")
    order_id = buyer.url.rsplit("/", 1)[-1]
    fee = buyer_company.partner.http.get(f"/v1/orders/{order_id}").json()["fee"]
    expect(buyer.locator("#order-fee")).to_have_text(cny(fee))

    seller.goto(f"{console_url(platform)}/market/orders")
    seller.get_by_role("link", name=order_id[:8]).click()
    for name, state in (
        ("Accept the order", "Accepted"),
        ("Start production", "In production"),
        ("Mark shipped", "Shipped"),
    ):
        move(seller, name, state)
    # What the buyer may do now, and nothing the seller may.
    buyer.reload()
    expect(buyer.locator("form.move button")).to_have_text(["Mark delivered", "Dispute"])
    move(buyer, "Mark delivered", "Delivered")
    move(buyer, "Complete and release the payment", "Completed")
    expect(buyer.locator(".history li")).to_have_count(7)
    check_page(buyer, "console-market-order-completed-en")

    buyer.get_by_role("link", name="Accounts").click()
    expect(buyer.locator("#account-available-CNY .balance")).to_have_text(cny(PAID_IN - 246_912))
    check_page(buyer, "console-market-accounts-en")
    buyer.locator("#account-available-CNY a").click()
    # Paid in; held for the order; settled when it completed.
    assert entries(buyer) == [cny(-246_912), "—", cny(PAID_IN)]
    assert entries(buyer, "held") == ["—", cny(-246_912), "—"]
    check_page(buyer, "console-market-ledger-en")

    seller.get_by_role("link", name="Accounts").click()
    expect(seller.locator("#account-available-CNY .balance")).to_have_text(cny(246_912 - fee))
    seller.locator("#account-available-CNY a").click()
    assert entries(seller) == [cny(246_912 - fee)]


def test_an_rfq_is_quoted_and_accepted_and_read_in_chinese(
    open_page: Callable[[str], Page], platform: Platform, companies: tuple[PlantTenant, PlantTenant]
) -> None:
    seller_company, buyer_company = companies
    title = f"Gearbox housings {uuid.uuid4().hex[:6]}"
    buyer = signed_in(open_page("en-US"), platform, buyer_company.admin.session_token)
    seller = signed_in(open_page("zh-CN"), platform, seller_company.admin.session_token)
    buyer.goto(f"{console_url(platform)}/market/rfqs/new")
    buyer.get_by_label("Title").fill(title)
    buyer.get_by_label("Category").select_option("casting")
    buyer.get_by_label("Specification").fill("EN-GJS-400, machined, 40 pieces.")
    buyer.get_by_label("Quantity").fill("40")
    buyer.get_by_label("Quotes due by").fill((date.today() + timedelta(days=30)).isoformat())
    check_page(buyer, "console-market-rfq-new-en")
    buyer.get_by_role("button", name="Send the RFQ").click()
    expect(buyer.locator("#rfq-status")).to_have_text("Open")
    rfq_url = buyer.url

    # The seller reads the open RFQs in Chinese and quotes.
    seller.goto(f"{console_url(platform)}/market/rfqs")
    expect(seller.get_by_role("heading", level=1)).to_have_text("公开询价")
    check_page(seller, "console-market-rfqs-zh")
    seller.get_by_role("link", name=title).click()
    quote = seller.locator("#quote-heading + form")
    quote.locator('input[name="price"]').fill("18000")
    quote.locator('input[name="lead_time_days"]').fill("21")
    quote.locator('input[name="valid_until"]').fill((date.today() + timedelta(days=14)).isoformat())
    seller.get_by_role("button", name="发送报价").click()
    expect(seller.locator("table.list")).to_contain_text("¥18,000.00")
    check_page(seller, "console-market-rfq-zh")

    buyer.goto(rfq_url)
    buyer.get_by_label("Your reference (purchase order)").fill("PO-2026-119")
    buyer.get_by_role("button", name="Accept the quote").click()
    expect(buyer.locator("#order-state")).to_have_text("Placed")
    expect(buyer.locator("#order-total")).to_have_text(cny(1_800_000))
    assert re.search(r"/market/orders/[0-9a-f-]{36}$", buyer.url)
    seller.goto(buyer.url)
    expect(seller.locator("#order-state")).to_have_text("已下单")
    check_page(seller, "console-market-order-zh")
