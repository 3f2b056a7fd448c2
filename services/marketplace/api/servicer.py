"""The marketplace's gRPC servicer: one mixin per area of the API, composed here."""

from __future__ import annotations

from gantry.v1 import marketplace_pb2_grpc

from services.kit.registry import Registry
from services.kit.store import Store
from services.marketplace import settings
from services.marketplace.api.figures import FiguresApi
from services.marketplace.api.ledger import LedgerApi
from services.marketplace.api.listings import ListingsApi
from services.marketplace.api.orders import OrdersApi
from services.marketplace.api.rfqs import RfqsApi
from services.marketplace.usecases import Clock, utc_now
from services.marketplace.usecases.figures import PlatformFigures
from services.marketplace.usecases.ledger import Ledger
from services.marketplace.usecases.listings import Listings
from services.marketplace.usecases.orders import Orders
from services.marketplace.usecases.rfqs import Rfqs

SERVICE_NAME = "gantry.v1.MarketplaceService"


class MarketplaceServicer(
    ListingsApi,
    RfqsApi,
    OrdersApi,
    LedgerApi,
    FiguresApi,
    marketplace_pb2_grpc.MarketplaceServiceServicer,
):
    def __init__(self, store: Store, registry: Registry, clock: Clock = utc_now) -> None:
        # One clock for the use cases and for showing RFQs and quotes as they stand.
        self.clock = clock
        self.registry = registry
        self.ledger = Ledger(store.unit_of_work, clock)
        self.listings = Listings(store.unit_of_work, clock, registry.device_belongs)
        self.rfqs = Rfqs(store.unit_of_work, clock)
        self.orders = Orders(store.unit_of_work, clock, fee_bps=settings.fee_bps())
        self.figures = PlatformFigures(store.unit_of_work, clock, settings.home_country())
