"""How the simulated factory calls the partner API: with a bearer token, stopping with the
answer's reason when a call fails."""

from __future__ import annotations

from typing import Any

import httpx


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise SystemExit(
            f"simulated factory: {response.request.url.path} answered {response.status_code}: {response.text}"
        )
    return response.json()
