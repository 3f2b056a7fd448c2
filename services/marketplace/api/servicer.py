"""The marketplace's gRPC servicer: one mixin per area of the API, composed here, and
the registry asked over gRPC whose devices a capacity listing may sell."""

from __future__ import annotations

import grpc
from gantry.v1 import marketplace_pb2_grpc, registry_pb2_grpc
from gantry.v1 import registry_pb2 as registry_pb

from services.kit.errors import Unavailable
from services.kit.logs import REQUEST_ID_HEADER, current_request_id
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
from services.marketplace.usecases.listings import DeviceCheck, Listings
from services.marketplace.usecases.orders import Orders
from services.marketplace.usecases.rfqs import Rfqs

SERVICE_NAME = "gantry.v1.MarketplaceService"
REGISTRY_TIMEOUT_SECONDS = 5.0


class RegistryDevices:
    """Whether a tenant owns a device, asked of the registry, the source of truth for who
    owns what: the marketplace keeps no copy that could go stale."""

    def __init__(self, registry: registry_pb2_grpc.RegistryServiceStub) -> None:
        self._registry = registry

    def __call__(self, tenant_id: str, device_id: str) -> bool:
        """False when the registry knows no such device of the tenant's; Unavailable when it
        cannot say, as the same call may then succeed later."""
        try:
            self._registry.GetDevice(
                registry_pb.GetDeviceRequest(tenant_id=tenant_id, device_id=device_id),
                timeout=REGISTRY_TIMEOUT_SECONDS,
                metadata=((REQUEST_ID_HEADER, current_request_id()),),
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise Unavailable("the registry could not confirm the device; try again") from error
        return True


class MarketplaceServicer(
    ListingsApi,
    RfqsApi,
    OrdersApi,
    LedgerApi,
    FiguresApi,
    marketplace_pb2_grpc.MarketplaceServiceServicer,
):
    def __init__(self, store: Store, device_belongs: DeviceCheck, clock: Clock = utc_now) -> None:
        # One clock for the use cases and for showing RFQs and quotes as they stand.
        self.clock = clock
        self.ledger = Ledger(store.unit_of_work, clock)
        self.listings = Listings(store.unit_of_work, clock, device_belongs)
        self.rfqs = Rfqs(store.unit_of_work, clock)
        self.orders = Orders(store.unit_of_work, clock, fee_bps=settings.fee_bps())
        self.figures = PlatformFigures(store.unit_of_work, clock, settings.home_country())
