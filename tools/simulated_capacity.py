"""The simulated factory's first machine offered as capacity on the marketplace: a
published listing of its machine-hours with its slots open for the next two weeks, so
that `make run` shows a listing whose figures the platform measures fill in.

Found again by its device among the tenant's own listings rather than remembered, so
that a restart, even one between its creation and its publication, never offers the
machine twice; each start opens the two weeks ahead (hours already open stay as they are).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tools.partner_api import bearer, ok

OPEN_AHEAD = timedelta(weeks=2)
LISTING = {
    "kind": "capacity",
    "title": "5-axis machining centre, hours by the slot",
    "description": "Machining centre 1 of the simulated factory: its idle hours, as the platform measures them.",
    "category": "cnc_machining",
    "price": 18_000,
    "currency": "CNY",
    "unit": "hour",
    "ship_from": "CN-32",
}


def offer_capacity(http: httpx.Client, api_key: str, device_id: str) -> dict[str, Any]:
    """The published capacity listing of the device, created and published if need be, its
    slots open from the current hour for two weeks."""
    key = bearer(api_key)
    listing = _own_listing(http, key, device_id) or ok(
        http.post("/v1/listings", headers=key, json={**LISTING, "device_id": device_id})
    )
    if listing["status"] == "draft":
        listing = ok(
            http.post(
                f"/v1/listings/{listing['id']}/status",
                headers={**key, "If-Match": f'"{listing["version"]}"'},
                json={"status": "published"},
            )
        )
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    period = {"start": start.isoformat(), "end": (start + OPEN_AHEAD).isoformat()}
    ok(http.post(f"/v1/listings/{listing['id']}/availability", headers=key, json=period))
    return listing


def _own_listing(http: httpx.Client, key: dict[str, str], device_id: str) -> dict[str, Any] | None:
    """The tenant's listing of the device's capacity that is not closed, if any."""
    cursor = ""
    while True:
        page = ok(http.get("/v1/listings/mine", headers=key, params={"cursor": cursor}))
        for listing in page["items"]:
            if listing["device_id"] == device_id and listing["status"] in ("draft", "published", "paused"):
                return listing
        if not (cursor := page["next_cursor"]):
            return None
