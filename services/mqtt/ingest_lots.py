"""Telemetry of many connections gathered into `IngestJsonMany` calls.

One call per message would cost telemetry a gRPC call, a bus message and a broker confirm
per message. Here a message goes out at once while fewer than `max_calls` calls are in
flight; otherwise it waits, and the next call takes every message waiting (up to
`max_requests`). Under load, calls grow instead of queueing up behind each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gantry.v1 import telemetry_pb2 as pb

Send = Callable[[pb.IngestJsonManyRequest], Awaitable[pb.IngestJsonManyResponse]]


class IngestLots:
    def __init__(self, send: Send, max_calls: int, max_requests: int) -> None:
        self._send = send
        self._max_calls = max_calls
        self._max_requests = max_requests
        self._waiting: list[tuple[pb.IngestJsonRequest, asyncio.Future[pb.IngestJsonOutcome]]] = []
        self._calls: set[asyncio.Task[None]] = set()

    async def ingest(self, request: pb.IngestJsonRequest) -> pb.IngestJsonOutcome:
        """What telemetry answered for `request`; raises what the call that carried it raised."""
        answer: asyncio.Future[pb.IngestJsonOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, answer))
        if len(self._calls) < self._max_calls:
            self._call_next()
        return await answer

    def _call_next(self) -> None:
        lot, self._waiting = self._waiting[: self._max_requests], self._waiting[self._max_requests :]
        call = asyncio.create_task(self._call(lot))
        self._calls.add(call)
        call.add_done_callback(self._done)

    def _done(self, call: asyncio.Task[None]) -> None:
        self._calls.discard(call)
        if self._waiting and len(self._calls) < self._max_calls:
            self._call_next()

    async def _call(
        self, lot: list[tuple[pb.IngestJsonRequest, asyncio.Future[pb.IngestJsonOutcome]]]
    ) -> None:
        try:
            response = await self._send(pb.IngestJsonManyRequest(requests=[request for request, _ in lot]))
        except Exception as error:
            for _, answer in lot:
                if not answer.done():
                    answer.set_exception(type(error)(*error.args))
            return
        for (_, answer), outcome in zip(lot, response.outcomes, strict=True):
            # A connection that went away meanwhile cancelled its wait.
            if not answer.done():
                answer.set_result(outcome)
