"""Analytics's webhooks: a tenant's URLs subscribed to alarm events, a test event sent to
one, and what was delivered to each."""

from __future__ import annotations

from gantry.v1 import analytics_pb2 as pb
from starlette.responses import Response

from services.gateway.clients import call
from services.gateway.endpoints import Call, Endpoint, Handler, json_response
from services.gateway.protojson import page_json, to_json, to_message
from services.gateway.routes.analytics import LIST_ERRORS, READ, READ_ERRORS, WRITE
from services.gateway.schemas import webhooks as schemas
from services.gateway.schemas.common import PageQuery

# A tenant holds at most 20 subscriptions; a disabled one takes no test event.
CREATE_ERRORS = (401, 403, 409, 413, 415, 422)
TEST_ERRORS = (*READ_ERRORS, 409)


def _webhook_request(c: Call) -> pb.GetWebhookRequest:
    return pb.GetWebhookRequest(tenant_id=c.tenant_id, webhook_id=c.path("webhook_id"))


async def create_webhook(c: Call) -> Response:
    request = to_message(pb.CreateWebhookRequest, c.body, tenant_id=c.tenant_id)
    reply = await call(c.backends.analytics.CreateWebhook, request)
    body = {**to_json(reply.webhook), "secret": reply.secret}
    return json_response(body, 201, {"Location": f"/v1/webhooks/{reply.webhook.id}"})


async def list_webhooks(c: Call) -> Response:
    request = to_message(pb.ListWebhooksRequest, c.query, tenant_id=c.tenant_id)
    found = await call(c.backends.analytics.ListWebhooks, request, field_prefix="page.")
    return json_response(page_json(found.webhooks, found.page))


async def get_webhook(c: Call) -> Response:
    return json_response(to_json(await call(c.backends.analytics.GetWebhook, _webhook_request(c))))


async def _set_enabled(c: Call, enabled: bool) -> Response:
    request = pb.SetWebhookEnabledRequest(
        tenant_id=c.tenant_id, webhook_id=c.path("webhook_id"), enabled=enabled
    )
    return json_response(to_json(await call(c.backends.analytics.SetWebhookEnabled, request)))


async def enable_webhook(c: Call) -> Response:
    return await _set_enabled(c, True)


async def disable_webhook(c: Call) -> Response:
    return await _set_enabled(c, False)


async def delete_webhook(c: Call) -> Response:
    # The answer is the subscription as it stood.
    return json_response(to_json(await call(c.backends.analytics.DeleteWebhook, _webhook_request(c))))


async def send_test_event(c: Call) -> Response:
    # Accepted: the delivery is queued, and analytics-notifier sends it shortly.
    delivery = await call(c.backends.analytics.SendTestEvent, _webhook_request(c))
    return json_response(to_json(delivery), 202)


async def list_deliveries(c: Call) -> Response:
    request = to_message(
        pb.ListWebhookDeliveriesRequest, c.query, tenant_id=c.tenant_id, webhook_id=c.path("webhook_id")
    )
    found = await call(c.backends.analytics.ListWebhookDeliveries, request, field_prefix="page.")
    return json_response(page_json(found.deliveries, found.page))


def _changing(method: str, path: str, handler: Handler, summary: str) -> Endpoint:
    """A change to one subscription, answered with the subscription."""
    return Endpoint(
        method, path, handler, summary, "webhooks", scope=WRITE, response=schemas.Webhook, errors=READ_ERRORS
    )


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/webhooks",
        create_webhook,
        "Subscribe a URL to alarm events; the answer holds the signing secret, shown only there",
        "webhooks",
        scope=WRITE,
        body=schemas.WebhookCreate,
        response=schemas.WebhookCreated,
        status=201,
        errors=CREATE_ERRORS,
    ),
    Endpoint(
        "GET",
        "/v1/webhooks",
        list_webhooks,
        "List the caller's webhook subscriptions, newest first, a page at a time",
        "webhooks",
        scope=READ,
        query=PageQuery,
        response=schemas.WebhookList,
        errors=LIST_ERRORS,
    ),
    Endpoint(
        "GET",
        "/v1/webhooks/{webhook_id}",
        get_webhook,
        "Get a webhook subscription",
        "webhooks",
        scope=READ,
        response=schemas.Webhook,
        errors=READ_ERRORS,
    ),
    _changing(
        "POST",
        "/v1/webhooks/{webhook_id}/enable",
        enable_webhook,
        "Enable a disabled subscription again; its past failures are forgotten",
    ),
    _changing(
        "POST",
        "/v1/webhooks/{webhook_id}/disable",
        disable_webhook,
        "Disable a subscription; its pending deliveries are abandoned",
    ),
    _changing(
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        delete_webhook,
        "Delete a subscription; its pending deliveries are abandoned, its records kept",
    ),
    Endpoint(
        "POST",
        "/v1/webhooks/{webhook_id}/test",
        send_test_event,
        "Queue a webhook.test event for this subscription alone; 409 while it is disabled",
        "webhooks",
        scope=WRITE,
        response=schemas.WebhookDelivery,
        status=202,
        errors=TEST_ERRORS,
    ),
    Endpoint(
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        list_deliveries,
        "List a subscription's deliveries, newest first, each with its attempts",
        "webhooks",
        scope=READ,
        query=PageQuery,
        response=schemas.WebhookDeliveryList,
        errors=READ_ERRORS,
    ),
]
