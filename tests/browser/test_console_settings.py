"""The settings and operator pages in a browser, on the whole platform, with real sessions:
an API key issued and used at the gateway, then revoked; a webhook subscribed to a local
receiver whose test event arrives signed; an operator's new tenant, suspended; the
platform's figures and the services' health; Chinese."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import httpx
import orjson
import pytest
from playwright.sync_api import Page, expect

from services.analytics.domain.webhooks import verify
from tests.browser.conftest import Watch, check_page, console_url, signed_in
from tests.support.plant import PlantTenant, SignedIn, operator, plant_tenant
from tests.support.platform import Platform
from tests.support.receiver import Receiver, receiving
from tests.support.waiting import eventually

# Revocation and suspension reach the gateway's cache of keys within seconds.
AUTH_CACHE_SECONDS = 30


@pytest.fixture(scope="module")
def plant(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Settings Works")


@pytest.fixture(scope="module")
def operator_session(registry_channel: grpc.Channel) -> SignedIn:
    return operator(registry_channel)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as listening:
        yield listening


def _status_with(gateway: str, key: str, path: str) -> Callable[[], int]:
    return lambda: httpx.get(f"{gateway}{path}", headers={"Authorization": f"Bearer {key}"}).status_code


def test_an_admin_issues_an_api_key_that_works_at_the_gateway_then_revokes_it(
    page: Page, platform: Platform, plant: PlantTenant, watch: Watch
) -> None:
    signed_in(page, platform, plant.admin.session_token)
    # The form refused first answers 400, which the browser logs.
    watch.expected_failures.add(f"{console_url(platform)}/settings/api-keys")
    page.goto(f"{console_url(platform)}/settings/api-keys")
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    # No scope chosen: the registry's refusal is shown at the field.
    page.get_by_label("Name").fill("line reader")
    page.get_by_role("button", name="Issue the key").click()
    expect(page.get_by_role("alert")).to_have_text("Some fields need correcting.")
    expect(page.locator("#key-scopes-error")).to_have_text("Choose at least one scope.")
    expect(page.get_by_label("Name")).to_have_value("line reader")
    page.get_by_label("devices:read").check()
    page.get_by_role("button", name="Issue the key").click()
    secret = page.locator("#issued-secret").inner_text()
    check_page(page, "console-api-keys-en")
    reads = _status_with(platform.gateway_url, secret, "/v1/devices")
    assert reads() == 200
    written = httpx.post(
        f"{platform.gateway_url}/v1/devices",
        headers={"Authorization": f"Bearer {secret}"},
        json=plant.partner.device_body(),
    )
    assert written.status_code == 403
    # The key is listed without its secret once the page is read again.
    page.goto(f"{console_url(platform)}/settings/api-keys")
    expect(page.locator("tr", has_text="line reader")).to_contain_text("devices:read")
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke line reader").click()
    expect(page.get_by_role("status")).to_contain_text("Revoked")
    eventually(lambda: reads() == 401, AUTH_CACHE_SECONDS, "the revoked key to be refused")


def test_a_webhook_receives_a_signed_test_event(
    page: Page, platform: Platform, plant: PlantTenant, receiver: Receiver
) -> None:
    signed_in(page, platform, plant.admin.session_token)
    page.goto(f"{console_url(platform)}/settings/webhooks")
    page.get_by_label("HTTPS address").fill(receiver.url())
    page.get_by_label("alarm.acknowledged").uncheck()
    page.get_by_role("button", name="Subscribe", exact=True).click()
    secret = page.locator("#issued-secret").inner_text()
    assert secret.startswith("whsec_")
    check_page(page, "console-webhooks-en")
    page.get_by_role("link", name="Deliveries and a test event").click()
    expect(page.locator("#webhook-url")).to_have_text(receiver.url())
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status")).to_contain_text("A test event is on its way")
    (request,) = eventually(lambda: receiver.received, 30, "the test event to arrive")
    verify(secret, request.headers["gantry-signature"], request.body)
    assert orjson.loads(request.body)["type"] == "webhook.test"

    def delivered() -> bool:
        page.reload()
        return page.locator("#deliveries .delivery-state").first.inner_text().startswith("Delivered")

    eventually(delivered, 30, "the delivery to be listed as delivered")
    expect(page.locator("#deliveries")).to_contain_text("HTTP 200")
    check_page(page, "console-webhook-en")
    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#webhook-status")).to_have_text("Disabled on request")
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#webhook-status")).to_have_text("Enabled")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted")
    assert plant.partner.http.get("/v1/webhooks").json()["items"] == []


def test_an_operator_creates_a_tenant_and_suspends_it(
    page: Page, platform: Platform, operator_session: SignedIn
) -> None:
    signed_in(page, platform, operator_session.session_token)
    page.goto(f"{console_url(platform)}/operator/tenants")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tenants")
    page.get_by_label("Company name").fill("Operator <b>Made</b> Ltd")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Company size").select_option("medium")
    page.get_by_role("button", name="Create the tenant").click()
    api_key = page.locator("#issued-secret").inner_text()
    check_page(page, "console-operator-tenants-en")
    reads = _status_with(platform.gateway_url, api_key, "/v1/api-keys")
    assert reads() == 200
    page.goto(f"{console_url(platform)}/operator/tenants")
    page.get_by_role("button", name="Suspend Operator <b>Made</b> Ltd").first.click()
    expect(page.get_by_role("status")).to_contain_text("Suspended")
    eventually(lambda: reads() == 401, AUTH_CACHE_SECONDS, "the suspended tenant's key to be refused")


def test_the_platform_figures_and_the_services_health(
    page: Page, platform: Platform, operator_session: SignedIn
) -> None:
    signed_in(page, platform, operator_session.session_token)
    page.goto(f"{console_url(platform)}/operator/figures")
    expect(page.get_by_role("heading", level=1)).to_have_text("Platform figures")
    registered = int(page.locator("#companies dd").first.inner_text())
    assert registered >= 1
    check_page(page, "console-operator-figures-en")
    page.get_by_role("link", name="Service health").click()
    expect(page.locator("#readiness")).to_contain_text("Ready")
    for backend in ("registry", "telemetry", "marketplace", "analytics"):
        expect(page.locator(f'tr[data-backend="{backend}"] .health-status')).to_have_text("Serving")
    check_page(page, "console-operator-health-en")


def test_the_settings_and_operator_pages_in_chinese(
    open_page: Callable[[str], Page], platform: Platform, plant: PlantTenant, operator_session: SignedIn
) -> None:
    admin = signed_in(open_page("zh-CN"), platform, plant.admin.session_token)
    operator_page = signed_in(open_page("zh-CN"), platform, operator_session.session_token)
    for page, path, heading in (
        (admin, "/settings/api-keys", "API 密钥"),
        (admin, "/settings/webhooks", "Webhook"),
        (operator_page, "/operator/tenants", "租户"),
        (operator_page, "/operator/figures", "平台数据"),
        (operator_page, "/operator/health", "服务健康状态"),
    ):
        page.goto(f"{console_url(platform)}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        check_page(page, f"console{path.replace('/', '-')}-zh")
