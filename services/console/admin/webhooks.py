"""A tenant's webhook subscriptions, in its settings: listed, created (an HTTPS URL and the
alarm events it wants; the signing secret shown once, in the answer to the form), and
each one's page: its deliveries with their attempts, a test event sent, disabled or
enabled, deleted. Reading takes `analytics:read`, changing `analytics:write`, as in the
API; every call names the reader's tenant, so another tenant's subscription is a 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gantry.v1 import analytics_pb2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.console.admin.calls import call, issued_or_refused
from services.console.backend import ask, checked_form, for_tenant, object_id
from services.console.pages import Pages
from services.console.people.context import PeopleContext, page_of
from services.console.people.refusals import Refusal
from services.console.plant_values import moment_of
from services.console.sessions import Principal
from services.kit.events import ALARM_EVENTS
from services.kit.grpc_clients import Backends

PAGE = "/settings/webhooks"
PAGE_SIZE = 50
DELIVERIES_LISTED = 20
NOTICES = frozenset({"deleted"})
WEBHOOK_NOTICES = frozenset({"test_sent", "enabled", "disabled"})
# One checkbox per event type, named `event:alarm.raised`.
EVENT_FIELD = "event:"


def routes(backends: Backends, pages: Pages) -> list[Route]:
    reader = for_tenant(backends, "analytics:read")
    writer = for_tenant(backends, "analytics:write")

    async def show_list(
        request: Request, principal: Principal, status: int = 200, **context: Any
    ) -> Response:
        listed = await ask(
            backends.analytics.ListWebhooks,
            analytics_pb2.ListWebhooksRequest(
                tenant_id=principal.tenant_id,
                page=page_of(request, PAGE_SIZE),
            ),
        )
        return pages.render(
            request,
            "admin/webhooks.html",
            status,
            principal=principal,
            webhooks=[webhook_view(webhook) for webhook in listed.webhooks],
            next_cursor=listed.page.next_cursor,
            event_types=ALARM_EVENTS,
            notice=PeopleContext.notice(request, NOTICES),
            **{
                "refusal": None,
                "issued": None,
                "entered": {"url": "", "event_types": ALARM_EVENTS},
                **context,
            },
        )

    @reader
    async def webhooks(request: Request, principal: Principal) -> Response:
        return await show_list(request, principal)

    @writer
    async def create(request: Request, principal: Principal) -> Response:
        form = await checked_form(request, principal, max_fields=len(ALARM_EVENTS) + 2)
        url = form.get("url", "").strip()
        chosen = [event for event in ALARM_EVENTS if form.get(f"{EVENT_FIELD}{event}")]
        created = await call(
            backends.analytics.CreateWebhook,
            analytics_pb2.CreateWebhookRequest(tenant_id=principal.tenant_id, url=url, event_types=chosen),
        )
        return await issued_or_refused(
            created,
            show_list,
            request,
            principal,
            {"url": url, "event_types": chosen},
            lambda created: {"id": created.webhook.id, "url": created.webhook.url, "secret": created.secret},
        )

    async def show_one(
        request: Request, principal: Principal, webhook_id: str, status: int = 200, **context: Any
    ) -> Response:
        asked = analytics_pb2.GetWebhookRequest(tenant_id=principal.tenant_id, webhook_id=webhook_id)
        webhook = await ask(backends.analytics.GetWebhook, asked)
        deliveries = await ask(
            backends.analytics.ListWebhookDeliveries,
            analytics_pb2.ListWebhookDeliveriesRequest(
                tenant_id=principal.tenant_id,
                webhook_id=webhook_id,
                page=page_of(request, DELIVERIES_LISTED),
            ),
        )
        return pages.render(
            request,
            "admin/webhook.html",
            status,
            principal=principal,
            webhook=webhook_view(webhook),
            deliveries=[delivery_view(delivery) for delivery in deliveries.deliveries],
            next_cursor=deliveries.page.next_cursor,
            notice=PeopleContext.notice(request, WEBHOOK_NOTICES),
            **{"refusal": None, **context},
        )

    @reader
    async def webhook(request: Request, principal: Principal) -> Response:
        return await show_one(request, principal, object_id(request, "webhook_id"))

    def change(method_name: str, outcome: str, **fields: Any) -> Callable[[Request], Awaitable[Response]]:
        """A form that changes the subscription: back to its page, or to the list once deleted."""

        @writer
        async def changed(request: Request, principal: Principal) -> Response:
            # The token first: a forged form learns nothing, not even whether it exists.
            await checked_form(request, principal)
            webhook_id = object_id(request, "webhook_id")
            named = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id}
            message: Any = (
                analytics_pb2.SetWebhookEnabledRequest(**named, **fields)
                if fields
                else analytics_pb2.GetWebhookRequest(**named)
            )
            answer = await call(getattr(backends.analytics, method_name), message)
            if isinstance(answer, Refusal):
                if answer.problem == "not_found":
                    raise HTTPException(404, "no such webhook")
                return await show_one(request, principal, webhook_id, answer.status, refusal=answer)
            target = (
                f"{PAGE}?notice=deleted" if outcome == "deleted" else f"{PAGE}/{webhook_id}?notice={outcome}"
            )
            return RedirectResponse(target, status_code=303)

        return changed

    one = f"{PAGE}/{{webhook_id}}"
    return [
        Route(PAGE, webhooks, methods=["GET"], name="settings_webhooks"),
        Route(PAGE, create, methods=["POST"], name="webhook_create"),
        Route(one, webhook, methods=["GET"], name="settings_webhook"),
        Route(f"{one}/test", change("SendTestEvent", "test_sent"), methods=["POST"], name="webhook_test"),
        Route(
            f"{one}/enable",
            change("SetWebhookEnabled", "enabled", enabled=True),
            methods=["POST"],
            name="webhook_enable",
        ),
        Route(
            f"{one}/disable",
            change("SetWebhookEnabled", "disabled", enabled=False),
            methods=["POST"],
            name="webhook_disable",
        ),
        Route(f"{one}/delete", change("DeleteWebhook", "deleted"), methods=["POST"], name="webhook_delete"),
    ]


def webhook_view(webhook: analytics_pb2.Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "event_types": list(webhook.event_types),
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason,
        "created_at": moment_of(webhook.created_at),
        "failing_since": moment_of(webhook.failing_since),
    }


def delivery_view(delivery: analytics_pb2.WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_type": delivery.event_type,
        "state": delivery.state,
        "created_at": moment_of(delivery.created_at),
        "next_attempt_at": moment_of(delivery.next_attempt_at),
        "attempts": [
            {
                "at": moment_of(attempt.at),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
            }
            for attempt in delivery.attempts
        ],
    }
