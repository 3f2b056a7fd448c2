"""Messages of many connections gathered into telemetry calls: one at once while calls are
free, the rest together in the next call, each answered with its own outcome."""

from __future__ import annotations

import asyncio

import pytest
from gantry.v1 import telemetry_pb2 as pb

from services.mqtt.ingest_lots import IngestLots


class Telemetry:
    """Answers each request with as many accepted readings as its body has bytes, once let go."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.go = asyncio.Event()
        self.failing = False

    async def send(self, request: pb.IngestJsonManyRequest) -> pb.IngestJsonManyResponse:
        self.calls.append([r.body for r in request.requests])
        await self.go.wait()
        if self.failing:
            raise ConnectionError("telemetry went away")
        return pb.IngestJsonManyResponse(
            outcomes=[
                pb.IngestJsonOutcome(response=pb.IngestResponse(accepted=len(r.body)))
                for r in request.requests
            ]
        )


def request(body: bytes) -> pb.IngestJsonRequest:
    return pb.IngestJsonRequest(body=body)


async def until_calls(telemetry: Telemetry, count: int) -> None:
    async def calls_made() -> None:
        while len(telemetry.calls) < count:
            await asyncio.sleep(0)

    await asyncio.wait_for(calls_made(), timeout=5)


def test_messages_wait_while_the_calls_are_busy_and_then_go_together() -> None:
    async def scenario() -> list[int]:
        telemetry = Telemetry()
        lots = IngestLots(telemetry.send, max_calls=1, max_requests=3)
        first = asyncio.create_task(lots.ingest(request(b"a")))
        await until_calls(telemetry, 1)
        rest = [asyncio.create_task(lots.ingest(request(b"b" * n))) for n in range(2, 7)]
        await asyncio.sleep(0)
        assert telemetry.calls == [[b"a"]]
        telemetry.go.set()
        outcomes = await asyncio.gather(first, *rest)
        assert telemetry.calls == [[b"a"], [b"bb", b"bbb", b"bbbb"], [b"bbbbb", b"bbbbbb"]]
        return [outcome.response.accepted for outcome in outcomes]

    assert asyncio.run(scenario()) == [1, 2, 3, 4, 5, 6]


def test_every_message_of_a_failed_call_fails_as_it_did() -> None:
    async def scenario() -> None:
        telemetry = Telemetry()
        telemetry.failing = True
        lots = IngestLots(telemetry.send, max_calls=2, max_requests=10)
        waits = [asyncio.create_task(lots.ingest(request(b"x"))) for _ in range(4)]
        await until_calls(telemetry, 2)
        telemetry.go.set()
        for wait in waits:
            with pytest.raises(ConnectionError, match="telemetry went away"):
                await wait

    asyncio.run(scenario())


def test_a_connection_that_went_away_does_not_hold_up_the_others() -> None:
    async def scenario() -> None:
        telemetry = Telemetry()
        lots = IngestLots(telemetry.send, max_calls=1, max_requests=10)
        gone = asyncio.create_task(lots.ingest(request(b"gone")))
        kept = asyncio.create_task(lots.ingest(request(b"kept")))
        await until_calls(telemetry, 1)
        gone.cancel()
        telemetry.go.set()
        assert (await kept).response.accepted == 4

    asyncio.run(scenario())
