"""gRPC methods of listings and their capacity slots."""

from __future__ import annotations

from typing import Any

import grpc
from gantry.v1 import marketplace_pb2 as pb

from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.protos import given, page_args, page_info, required_time, tenant_of, value_of
from services.marketplace.api.messages import (
    LISTING_KINDS,
    LISTING_STATUSES,
    UNITS,
    listing_message,
    slot_message,
)
from services.marketplace.usecases.listings import UPDATABLE, Listings


def _listing_fields(request: pb.CreateListingRequest) -> dict[str, Any]:
    """What the request gives; what it leaves empty takes the use case's default (CNY, a
    minimum order of 1), or fails its check of a required field."""
    return given(
        kind=LISTING_KINDS.to_domain(request.kind, "kind"),
        title=request.title,
        description=request.description,
        category=request.category,
        price=request.price,
        currency=request.currency or None,
        unit=UNITS.to_domain(request.unit, "unit"),
        min_order_quantity=request.min_order_quantity or None,
        lead_time_days=request.lead_time_days,
        ship_from=request.ship_from,
        device_id=request.device_id or None,
        stock=value_of(request, "stock"),
    )


def _changes(request: pb.UpdateListingRequest) -> dict[str, Any]:
    """The fields named in the update mask, with their values; checked here so that the
    error names the mask as the caller sent it."""
    paths = list(request.update_mask.paths)
    if not paths or not set(paths) <= set(UPDATABLE):
        raise InvalidArgument([FieldViolation("update_mask", f"any of {', '.join(UPDATABLE)}")])
    return {path: value_of(request, path) for path in paths}


def _search_filters(request: pb.SearchListingsRequest) -> dict[str, Any]:
    """The filters given; an empty one (or a bound of 0) matches all."""
    return given(
        category=request.category or None,
        kind=LISTING_KINDS.to_domain(request.kind, "kind"),
        ship_from=request.ship_from or None,
        currency=request.currency or None,
        min_price=request.min_price or None,
        max_price=request.max_price or None,
        text=request.text or None,
        order_by=request.order_by or None,
        min_idle_hours_per_week=request.min_idle_hours_per_week or None,
        min_oee=request.min_oee or None,
        min_mtbf_hours=request.min_mtbf_hours or None,
        min_idle_hours_next_week=request.min_idle_hours_next_week or None,
    )


class ListingsApi:
    listings: Listings

    def CreateListing(self, request: pb.CreateListingRequest, context: grpc.ServicerContext) -> pb.Listing:
        return listing_message(self.listings.create(tenant_of(request), _listing_fields(request)))

    def GetListing(self, request: pb.GetListingRequest, context: grpc.ServicerContext) -> pb.Listing:
        return listing_message(self.listings.get(tenant_of(request), request.listing_id))

    def UpdateListing(self, request: pb.UpdateListingRequest, context: grpc.ServicerContext) -> pb.Listing:
        listing = self.listings.update(
            tenant_of(request), request.listing_id, request.expected_version, _changes(request)
        )
        return listing_message(listing)

    def ChangeListingStatus(
        self, request: pb.ChangeListingStatusRequest, context: grpc.ServicerContext
    ) -> pb.Listing:
        listing = self.listings.change_status(
            tenant_of(request),
            request.listing_id,
            request.expected_version,
            LISTING_STATUSES.to_domain(request.status, "status"),
        )
        return listing_message(listing)

    def AddAvailability(
        self, request: pb.AddAvailabilityRequest, context: grpc.ServicerContext
    ) -> pb.AddAvailabilityResponse:
        opened = self.listings.add_availability(
            tenant_of(request),
            request.listing_id,
            required_time(request, "start"),
            required_time(request, "end"),
        )
        return pb.AddAvailabilityResponse(opened=opened)

    def ListFreeSlots(
        self, request: pb.ListFreeSlotsRequest, context: grpc.ServicerContext
    ) -> pb.ListFreeSlotsResponse:
        slots = self.listings.free_slots(
            tenant_of(request),
            request.listing_id,
            required_time(request, "start"),
            required_time(request, "end"),
        )
        return pb.ListFreeSlotsResponse(slots=[slot_message(s) for s in slots])

    def SearchListings(
        self, request: pb.SearchListingsRequest, context: grpc.ServicerContext
    ) -> pb.SearchListingsResponse:
        found, next_cursor = self.listings.search(
            tenant_of(request), _search_filters(request), *page_args(request.page)
        )
        return pb.SearchListingsResponse(
            listings=[listing_message(f) for f in found], page=page_info(next_cursor)
        )

    def ListOwnListings(
        self, request: pb.ListOwnListingsRequest, context: grpc.ServicerContext
    ) -> pb.ListOwnListingsResponse:
        found, next_cursor = self.listings.list_own(
            tenant_of(request),
            LISTING_STATUSES.to_domain(request.status, "status"),
            *page_args(request.page),
        )
        return pb.ListOwnListingsResponse(
            listings=[listing_message(f) for f in found], page=page_info(next_cursor)
        )
