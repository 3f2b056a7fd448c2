"""gRPC methods of requests for quotation and their quotes.

RFQs and quotes are shown as they stand when answered: one open past its deadline or
validity is expired, though nothing wrote that down (see domain/rfqs.py).
"""

from __future__ import annotations

from typing import Any

import grpc
from gantry.v1 import marketplace_pb2 as pb

from services.kit.protos import given, page_args, page_info, required_time, tenant_of
from services.marketplace.api.messages import UNITS, quote_message, rfq_message
from services.marketplace.domain.rfqs import Quote, Rfq
from services.marketplace.usecases import Clock
from services.marketplace.usecases.rfqs import Rfqs


def _rfq_fields(request: pb.PostRfqRequest) -> dict[str, Any]:
    return given(
        category=request.category,
        title=request.title,
        specification=request.specification,
        quantity=request.quantity,
        unit=UNITS.to_domain(request.unit, "unit"),
        currency=request.currency or None,
        deadline=required_time(request, "deadline"),
    )


def _quote_fields(request: pb.SubmitQuoteRequest) -> dict[str, Any]:
    return given(
        price=request.price,
        currency=request.currency or None,
        lead_time_days=request.lead_time_days,
        valid_until=required_time(request, "valid_until"),
        note=request.note,
    )


class RfqsApi:
    rfqs: Rfqs
    clock: Clock

    def PostRfq(self, request: pb.PostRfqRequest, context: grpc.ServicerContext) -> pb.Rfq:
        return self._rfq(self.rfqs.post(tenant_of(request), _rfq_fields(request)))

    def GetRfq(self, request: pb.GetRfqRequest, context: grpc.ServicerContext) -> pb.GetRfqResponse:
        rfq, quotes = self.rfqs.get(tenant_of(request), request.rfq_id)
        now = self.clock()
        return pb.GetRfqResponse(rfq=rfq_message(rfq, now), quotes=[quote_message(q, now) for q in quotes])

    def ListOpenRfqs(
        self, request: pb.ListOpenRfqsRequest, context: grpc.ServicerContext
    ) -> pb.ListOpenRfqsResponse:
        found, next_cursor = self.rfqs.list_open(
            tenant_of(request), request.category or None, *page_args(request.page)
        )
        return pb.ListOpenRfqsResponse(rfqs=self._rfqs(found), page=page_info(next_cursor))

    def ListOwnRfqs(
        self, request: pb.ListOwnRfqsRequest, context: grpc.ServicerContext
    ) -> pb.ListOwnRfqsResponse:
        found, next_cursor = self.rfqs.list_own(tenant_of(request), *page_args(request.page))
        return pb.ListOwnRfqsResponse(rfqs=self._rfqs(found), page=page_info(next_cursor))

    def CancelRfq(self, request: pb.CancelRfqRequest, context: grpc.ServicerContext) -> pb.Rfq:
        return self._rfq(self.rfqs.cancel(tenant_of(request), request.rfq_id))

    def SubmitQuote(self, request: pb.SubmitQuoteRequest, context: grpc.ServicerContext) -> pb.Quote:
        return self._quote(self.rfqs.submit_quote(tenant_of(request), request.rfq_id, _quote_fields(request)))

    def WithdrawQuote(self, request: pb.WithdrawQuoteRequest, context: grpc.ServicerContext) -> pb.Quote:
        return self._quote(self.rfqs.withdraw_quote(tenant_of(request), request.quote_id))

    def _rfq(self, rfq: Rfq) -> pb.Rfq:
        return rfq_message(rfq, self.clock())

    def _rfqs(self, found: list[Rfq]) -> list[pb.Rfq]:
        now = self.clock()
        return [rfq_message(rfq, now) for rfq in found]

    def _quote(self, quote: Quote) -> pb.Quote:
        return quote_message(quote, self.clock())
