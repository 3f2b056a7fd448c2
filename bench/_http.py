"""A minimal keep-alive HTTP/1.1 load client on asyncio streams, as wrk would send
requests: prepared bytes out, status and body in, nothing parsed that need not be."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit


def seconds() -> float:
    """How long a timed run lasts (read when it starts, so that tests can shorten it)."""
    return float(os.environ.get("BENCH_SECONDS", "5"))


class HttpConnection:
    """One keep-alive HTTP/1.1 connection sending prepared requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base_url: str) -> HttpConnection:
        parts = urlsplit(base_url)
        return cls(*await asyncio.open_connection(parts.hostname, parts.port))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def http_request(method: str, path: str, api_key: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def rate(call: Callable[[int], Awaitable[object]], in_flight: int, calls: int | None = None) -> float:
    """Calls completed per second by `in_flight` callers, for `seconds()` or `calls` calls."""
    deadline = time.perf_counter() + seconds()
    done = 0
    next_index = 0

    async def caller() -> None:
        nonlocal done, next_index
        while (calls is None and time.perf_counter() < deadline) or (
            calls is not None and next_index < calls
        ):
            index, next_index = next_index, next_index + 1
            await call(index)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(in_flight)))
    return done / (time.perf_counter() - started)


async def http_rate(base_url: str, requests: list[bytes], in_flight: int, calls: int | None = None) -> float:
    connections = [await HttpConnection.open(base_url) for _ in range(in_flight)]
    free = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)

    async def send(index: int) -> None:
        connection = await free.get()
        status, body = await connection.send(requests[index % len(requests)])
        free.put_nowait(connection)
        assert status == 200, body[:300]

    try:
        return await rate(send, in_flight, calls)
    finally:
        for connection in connections:
            connection.close()
