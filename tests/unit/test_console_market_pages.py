"""The marketplace's pages drawn from the marketplace's messages: what the platform measured of
a capacity listing's machine, in either language, and the listing's own texts escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gantry.v1 import marketplace_pb2 as pb
from starlette.requests import Request

from services.console.app import STATIC_DIR
from services.console.i18n import load_languages
from services.console.market.values import listing_view
from services.console.pages import Pages
from services.console.sessions import CSRF_FIELD, Principal
from services.kit.protos import timestamp
from services.kit.web_assets import VENDOR_DIR, HashedFiles

FREE_HOUR = datetime(2026, 12, 8, 1, tzinfo=UTC)
SELLER, BUYER = "5b7a3e0c-8d7e-4c55-9d4e-0f7f1b6c2a11", "0d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture(scope="module")
def pages() -> Pages:
    assets = HashedFiles("/static", [("", STATIC_DIR), ("vendor/", VENDOR_DIR)])
    return Pages(
        load_languages(), assets, "Asia/Shanghai", {"api_docs_url": "/docs", "has_page": lambda _: True}
    )


def request_in(language: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/market/listings/x",
            "query_string": b"",
            "headers": [(b"accept-language", language.encode())],
        }
    )


def measured_capacity() -> pb.Listing:
    return pb.Listing(
        id="3f0e9d2c-1b4a-4c8e-9f7d-6a5b4c3d2e1f",
        seller_id=SELLER,
        kind=pb.LISTING_KIND_CAPACITY,
        title="VMC-850 <b>hours</b>",
        description="<script>alert(1)</script>",
        category="cnc_machining",
        price=18_000,
        currency="CNY",
        unit=pb.UNIT_HOUR,
        min_order_quantity=1,
        ship_from="CN-32",
        status=pb.LISTING_STATUS_PUBLISHED,
        version=2,
        created_at=timestamp(datetime(2026, 12, 1, tzinfo=UTC)),
        measured=pb.CapacityMeasurement(
            idle_hours_per_week=61.5,
            utilisation=0.634,
            oee=0.712,
            idle_hours_next_week=40.25,
            start=timestamp(datetime(2026, 11, 1, tzinfo=UTC)),
            end=timestamp(datetime(2026, 11, 29, tzinfo=UTC)),
        ),
    )


def draw(pages: Pages, language: str, tenant_id: str) -> str:
    principal = Principal(
        "s", "u", "Ada", "ada@x.example", tenant_id, "ROLE_ADMIN", frozenset({"admin"}), "t", False
    )
    view = listing_view(measured_capacity(), tenant_id)
    response = pages.render(
        request_in(language),
        "market/listing.html",
        principal=principal,
        csrf_field=CSRF_FIELD,
        listing=view,
        status_moves=("paused", "closed") if view["own"] else (),
        orderable=False,
        free_hours=None if view["own"] else [FREE_HOUR],
        idempotency_key="k",
        problem="",
        wrong=frozenset(),
        entered={},
    )
    return response.body.decode()


def test_what_the_platform_measured_is_shown_in_either_language(pages: Pages) -> None:
    english = draw(pages, "en", BUYER)
    assert "Measured by the platform" in english
    for figure in ("61.5", "40.2", "63 %", "71 %", "CN¥180.00 / hour"):
        assert figure in english
    assert "Mean time between failures</dt><dd>—" in english
    # A buyer is offered no publishing; the machine-hours are not ordered on this page.
    assert "/status" not in english and "Place the order" not in english
    # It is offered the free hours instead, in the reader's zone.
    assert f'<option value="{int(FREE_HOUR.timestamp())}">12/8/26, 9:00' in english
    chinese = draw(pages, "zh-CN", SELLER)
    assert "平台实测" in chinese and "¥180.00 / 小时" in chinese
    assert 'action="/market/listings/3f0e9d2c-1b4a-4c8e-9f7d-6a5b4c3d2e1f/status"' in chinese
    assert 'action="/market/listings/3f0e9d2c-1b4a-4c8e-9f7d-6a5b4c3d2e1f/hours"' in chinese


def test_the_listings_texts_are_escaped(pages: Pages) -> None:
    html = draw(pages, "en", BUYER)
    assert "<script>alert(1)" not in html and "<b>hours</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
