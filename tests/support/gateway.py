"""The gateway served by uvicorn on a thread of the test process, its backends wherever a
test points them."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import httpx
import uvicorn

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.kit.settings import SERVICES
from tests.support.platform import free_port
from tests.support.waiting import eventually

OPERATOR_TOKEN = "in-process-operator-token"
STOP_SECONDS = 10.0


def closed_target() -> str:
    """An address where nothing listens."""
    return f"127.0.0.1:{free_port()}"


@contextmanager
def gateway(**targets: str) -> Iterator[httpx.Client]:
    """A client, acting as the operator, of a gateway whose backends are at `targets` (by
    name, e.g. registry=...; the others at a closed port), with rate limits and
    Idempotency-Key records in its own memory."""
    env = {f"GANTRY_{name.upper()}_GRPC_TARGET": targets.get(name, closed_target()) for name in SERVICES}
    port = free_port()
    with mock.patch.dict(os.environ, {**env, "GANTRY_REDIS_URL": ""}):
        app = create_app(GatewaySettings("127.0.0.1", port, OPERATOR_TOKEN, 5))
        # As `python -m services.gateway` runs it: uvicorn's own access log names raw paths.
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="gateway", daemon=True)
        thread.start()
        try:
            # The gateway reads its targets as it starts: the environment must hold until then.
            eventually(lambda: server.started, what="the gateway to serve")
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
                timeout=10,
            ) as client:
                yield client
        finally:
            server.should_exit = True
            thread.join(STOP_SECONDS)
