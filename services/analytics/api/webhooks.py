"""gRPC methods of webhooks: subscriptions and what was delivered to them."""

from __future__ import annotations

import grpc
from gantry.v1 import analytics_pb2 as pb

from services.analytics.domain.webhooks import Attempt, Delivery, Webhook
from services.analytics.usecases.webhooks import Webhooks
from services.kit.protos import page_args, page_info, tenant_of, timestamp_fields


def webhook_message(webhook: Webhook) -> pb.Webhook:
    return pb.Webhook(
        id=webhook.id,
        tenant_id=webhook.tenant_id,
        url=webhook.url,
        event_types=webhook.event_types,
        enabled=webhook.enabled,
        disabled_reason=webhook.disabled_reason,
        **timestamp_fields(created_at=webhook.created_at, failing_since=webhook.failing_since),
    )


def delivery_message(delivery: Delivery, attempts: list[Attempt]) -> pb.WebhookDelivery:
    return pb.WebhookDelivery(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        state=delivery.state.value,
        attempts=[attempt_message(attempt) for attempt in attempts],
        **timestamp_fields(created_at=delivery.created_at, next_attempt_at=delivery.next_attempt_at),
    )


def attempt_message(attempt: Attempt) -> pb.DeliveryAttempt:
    return pb.DeliveryAttempt(
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
        **timestamp_fields(at=attempt.at),
    )


class WebhooksApi:
    webhooks: Webhooks

    def CreateWebhook(
        self, request: pb.CreateWebhookRequest, context: grpc.ServicerContext
    ) -> pb.CreateWebhookResponse:
        webhook, secret = self.webhooks.create(tenant_of(request), request.url, list(request.event_types))
        return pb.CreateWebhookResponse(webhook=webhook_message(webhook), secret=secret)

    def GetWebhook(self, request: pb.GetWebhookRequest, context: grpc.ServicerContext) -> pb.Webhook:
        return webhook_message(self.webhooks.get(tenant_of(request), request.webhook_id))

    def ListWebhooks(
        self, request: pb.ListWebhooksRequest, context: grpc.ServicerContext
    ) -> pb.ListWebhooksResponse:
        found, next_cursor = self.webhooks.list(tenant_of(request), *page_args(request.page))
        return pb.ListWebhooksResponse(
            webhooks=[webhook_message(webhook) for webhook in found], page=page_info(next_cursor)
        )

    def SetWebhookEnabled(
        self, request: pb.SetWebhookEnabledRequest, context: grpc.ServicerContext
    ) -> pb.Webhook:
        webhook = self.webhooks.set_enabled(tenant_of(request), request.webhook_id, request.enabled)
        return webhook_message(webhook)

    def DeleteWebhook(self, request: pb.GetWebhookRequest, context: grpc.ServicerContext) -> pb.Webhook:
        return webhook_message(self.webhooks.delete(tenant_of(request), request.webhook_id))

    def SendTestEvent(
        self, request: pb.GetWebhookRequest, context: grpc.ServicerContext
    ) -> pb.WebhookDelivery:
        delivery = self.webhooks.send_test_event(tenant_of(request), request.webhook_id)
        return delivery_message(delivery, [])

    def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: grpc.ServicerContext
    ) -> pb.ListWebhookDeliveriesResponse:
        found, next_cursor = self.webhooks.deliveries(
            tenant_of(request), request.webhook_id, *page_args(request.page)
        )
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[delivery_message(delivery, attempts) for delivery, attempts in found],
            page=page_info(next_cursor),
        )
