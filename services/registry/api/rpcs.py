"""gRPC methods of server-side RPCs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import grpc
import orjson
from gantry.v1 import registry_pb2 as pb

from services.kit.protos import EnumMap
from services.registry.api.messages import page_info, timestamp_fields
from services.registry.api.rpc_waiters import RpcWaiters
from services.registry.domain_rpcs import Rpc, RpcStatus
from services.registry.usecases.rpcs import Rpcs

STATUSES = EnumMap(pb.RpcStatus, "RPC_STATUS_", RpcStatus)


def rpc_message(rpc: Rpc) -> pb.Rpc:
    return pb.Rpc(
        id=rpc.id,
        device_id=rpc.device_id,
        method=rpc.method,
        params_json=orjson.dumps(rpc.params).decode(),
        one_way=rpc.one_way,
        timeout_ms=rpc.timeout_ms,
        status=STATUSES.to_proto(rpc.status),
        response_json="" if rpc.answered_at is None else orjson.dumps(rpc.response).decode(),
        **timestamp_fields(
            created_at=rpc.created_at,
            sent_at=rpc.sent_at,
            answered_at=rpc.answered_at,
            expires_at=rpc.expires_at,
        ),
    )


class RpcsApi:
    rpcs: Rpcs
    rpc_waiters: RpcWaiters

    async def SendRpc(self, request: pb.SendRpcRequest, context: grpc.aio.ServicerContext) -> pb.Rpc:
        """Sends, then waits on the event loop for the outcome, up to the call's timeout."""
        rpc_id = str(uuid.uuid4())
        command = {
            "method": request.method,
            "one_way": request.one_way,
            "timeout_ms": request.timeout_ms,
            "expires_in_seconds": request.expires_in_seconds,
        }
        with self.rpc_waiters.waiting(rpc_id) as outcome:
            rpc = await asyncio.to_thread(
                self.rpcs.send, rpc_id, request.tenant_id, request.device_id, command, request.params_json
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(outcome, rpc.timeout_ms / 1000)
        found = await asyncio.to_thread(self.rpcs.get, rpc.tenant_id, rpc.device_id, rpc.id)
        return rpc_message(found)

    def GetRpc(self, request: pb.GetRpcRequest, context: grpc.ServicerContext) -> pb.Rpc:
        return rpc_message(self.rpcs.get(request.tenant_id, request.device_id, request.rpc_id))

    def ListRpcs(self, request: pb.ListRpcsRequest, context: grpc.ServicerContext) -> pb.ListRpcsResponse:
        found, next_cursor = self.rpcs.list(
            request.tenant_id, request.device_id, request.page.page_size, request.page.cursor
        )
        return pb.ListRpcsResponse(rpcs=[rpc_message(rpc) for rpc in found], page=page_info(next_cursor))

    def ClaimRpcs(self, request: pb.ClaimRpcsRequest, context: grpc.ServicerContext) -> pb.ClaimRpcsResponse:
        claimed = self.rpcs.claim(request.tenant_id, request.device_id, list(request.rpc_ids))
        return pb.ClaimRpcsResponse(rpcs=[rpc_message(rpc) for rpc in claimed])

    def AnswerRpc(self, request: pb.AnswerRpcRequest, context: grpc.ServicerContext) -> pb.Rpc:
        answered = self.rpcs.answer(
            request.tenant_id, request.device_id, request.rpc_id, request.response_json
        )
        return rpc_message(answered)
