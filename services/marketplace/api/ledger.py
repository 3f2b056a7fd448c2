"""gRPC methods of the ledger: money entering and leaving, balances, the zero-sum check."""

from __future__ import annotations

import grpc
from gantry.v1 import marketplace_pb2 as pb

from services.kit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.kit.protos import page_args, page_info, tenant_of, tenant_or_operator
from services.kit.registry import Registry
from services.kit.validation import require_uuid
from services.marketplace.api.messages import account_message, transfer_message
from services.marketplace.domain.ledger import PLATFORM, require_amount
from services.marketplace.usecases.ledger import Ledger, Movement
from services.marketplace.usecases.orders import Command


def _movement(request: pb.DepositRequest | pb.WithdrawRequest, tenant_id: str | None) -> Movement:
    """Who moves money, named as orders name them, so that one caller's idempotency keys
    are one scope whatever the call."""
    actor = Command(tenant_id, request.reason, request.idempotency_key).actor
    return Movement(actor, request.reason, request.idempotency_key)


def _amount(request: pb.DepositRequest | pb.WithdrawRequest) -> int:
    """The amount, checked here: the ledger would name it as the first leg of a transfer."""
    return require_amount(request.amount)


class LedgerApi:
    ledger: Ledger
    registry: Registry

    def Deposit(self, request: pb.DepositRequest, context: grpc.ServicerContext) -> pb.Transfer:
        if request.tenant_id:
            raise FailedPrecondition("only the operator records deposits")
        tenant_id = require_uuid(request.credit_tenant_id, "credit_tenant_id")
        # Money credited to no company would sit in an account nobody can spend or see.
        if not self.registry.tenant_exists(tenant_id):
            raise InvalidArgument([FieldViolation("credit_tenant_id", "no registered company has this id")])
        transfer = self.ledger.deposit(
            _movement(request, None), tenant_id, request.currency, _amount(request)
        )
        return transfer_message(transfer)

    def Withdraw(self, request: pb.WithdrawRequest, context: grpc.ServicerContext) -> pb.Transfer:
        tenant_id = tenant_of(request)
        transfer = self.ledger.withdraw(
            _movement(request, tenant_id), tenant_id, request.currency, _amount(request)
        )
        return transfer_message(transfer)

    def GetAccounts(
        self, request: pb.GetAccountsRequest, context: grpc.ServicerContext
    ) -> pb.GetAccountsResponse:
        owner = tenant_or_operator(request) or PLATFORM
        return pb.GetAccountsResponse(accounts=[account_message(a) for a in self.ledger.accounts(owner)])

    def ListTransfers(
        self, request: pb.ListTransfersRequest, context: grpc.ServicerContext
    ) -> pb.ListTransfersResponse:
        owner = tenant_or_operator(request) or PLATFORM
        found, next_cursor = self.ledger.transfers(owner, request.account_id, *page_args(request.page))
        return pb.ListTransfersResponse(
            transfers=[transfer_message(t) for t in found], page=page_info(next_cursor)
        )

    def CheckLedger(
        self, request: pb.CheckLedgerRequest, context: grpc.ServicerContext
    ) -> pb.CheckLedgerResponse:
        imbalances = [
            pb.Imbalance(currency=currency, posted=posted, pending=pending)
            for currency, (posted, pending) in sorted(self.ledger.imbalances().items())
        ]
        return pb.CheckLedgerResponse(imbalances=imbalances)
