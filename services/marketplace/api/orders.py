"""gRPC methods of orders: placing them, moving them through their lifecycle, reading them."""

from __future__ import annotations

import grpc
from gantry.v1 import marketplace_pb2 as pb
from google.protobuf.message import Message

from services.kit.protos import page_args, page_info, tenant_of, tenant_or_operator, valid_time
from services.marketplace.api.messages import (
    ORDER_STATES,
    line_message,
    order_message,
    slot_evidence_message,
    transition_message,
)
from services.marketplace.usecases.orders import Command, Orders


def _command(request: Message, tenant_id: str | None) -> Command:
    return Command(tenant_id, request.reason, request.idempotency_key)


def _tenant_command(request: Message) -> Command:
    """The calling tenant's command: its id is checked before it scopes the idempotency key."""
    return _command(request, tenant_of(request))


class OrdersApi:
    orders: Orders

    def PlaceOrder(self, request: pb.PlaceOrderRequest, context: grpc.ServicerContext) -> pb.Order:
        slots = [valid_time(slot, f"slots[{index}]") for index, slot in enumerate(request.slots)]
        order = self.orders.place(_tenant_command(request), request.listing_id, request.quantity, slots)
        return order_message(order)

    def AcceptQuote(self, request: pb.AcceptQuoteRequest, context: grpc.ServicerContext) -> pb.Order:
        return order_message(self.orders.place_from_quote(_tenant_command(request), request.quote_id))

    def FundOrder(self, request: pb.FundOrderRequest, context: grpc.ServicerContext) -> pb.Order:
        return order_message(self.orders.fund(_tenant_command(request), request.order_id))

    def AdvanceOrder(self, request: pb.AdvanceOrderRequest, context: grpc.ServicerContext) -> pb.Order:
        # UNSPECIFIED reaches the use case as None, which it refuses naming `state`.
        state = ORDER_STATES.to_domain(request.state, "state")
        return order_message(self.orders.advance(_tenant_command(request), request.order_id, state))

    def CompleteOrder(self, request: pb.CompleteOrderRequest, context: grpc.ServicerContext) -> pb.Order:
        return order_message(self.orders.complete(_tenant_command(request), request.order_id))

    def CancelOrder(self, request: pb.CancelOrderRequest, context: grpc.ServicerContext) -> pb.Order:
        return order_message(self.orders.cancel(_tenant_command(request), request.order_id))

    def ResolveDispute(self, request: pb.ResolveDisputeRequest, context: grpc.ServicerContext) -> pb.Order:
        # A tenant's ruling is refused by the use case: only the operator resolves.
        command = _command(request, tenant_or_operator(request))
        return order_message(self.orders.resolve_dispute(command, request.order_id, request.refund))

    def GetOrder(self, request: pb.GetOrderRequest, context: grpc.ServicerContext) -> pb.GetOrderResponse:
        record = self.orders.get(tenant_or_operator(request), request.order_id)
        return pb.GetOrderResponse(
            order=order_message(record.order),
            lines=[line_message(line) for line in record.lines],
            history=[transition_message(t) for t in record.history],
            slot_evidence=[slot_evidence_message(e) for e in record.slot_evidence],
            moves=[ORDER_STATES.to_proto(state) for state in record.moves],
        )

    def ListOrders(
        self, request: pb.ListOrdersRequest, context: grpc.ServicerContext
    ) -> pb.ListOrdersResponse:
        found, next_cursor = self.orders.list(tenant_of(request), *page_args(request.page))
        return pb.ListOrdersResponse(orders=[order_message(o) for o in found], page=page_info(next_cursor))
