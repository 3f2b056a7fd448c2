"""A dispute over machine-hours, on the whole platform: the operator reviewing it sees what
the machine's telemetry shows it did in each booked slot, as analytics measured it once
the slots had ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.test_gateway_marketplace import Trader, deposit, keyed, new_trader, rfc3339
from tests.e2e.test_gateway_performance import CREATE, MODEL, hour_start
from tests.support.client import PartnerClient
from tests.support.platform import OPERATOR_TOKEN, Platform
from tests.support.waiting import eventually

HOUR = timedelta(hours=1)


def cut_then_idle(seller: Trader, device: str, start: datetime) -> None:
    """The machine cut through the hour from `start` and stood idle the next; sent until
    analytics has learnt of the device and its model and tracked what it did."""
    modes = [(0, "cutting"), (60, "idle"), (90, "idle")]
    samples = [
        {"ts": int((start + timedelta(minutes=minutes)).timestamp() * 1000), "values": {"mode": mode}}
        for minutes, mode in modes
    ]
    params = {"start": start.isoformat(), "end": (start + HOUR).isoformat(), "granularity": "hour"}

    def tracked() -> bool:
        sent = seller.http.post(
            "/v1/telemetry", json={"devices": [{"device_id": device, "samples": samples}]}
        )
        assert sent.status_code == 200, sent.text
        figures = seller.http.get(f"/v1/devices/{device}/performance", params=params)
        return (
            figures.status_code == 200 and figures.json()["periods"][0]["inputs"]["unplanned_producing"] > 0
        )

    eventually(tracked, timeout=30, what="the device's readings to be tracked")


def test_the_operator_reviewing_a_disputed_capacity_order_sees_each_slot_s_evidence(
    platform: Platform,
) -> None:
    operator = PartnerClient(platform.gateway_url, OPERATOR_TOKEN)
    seller, buyer = new_trader(platform, operator), new_trader(platform, operator, "DE")
    assert deposit(operator, buyer, 100_000).status_code == 201
    device = seller.register_device()
    model = seller.http.put(f"/v1/machine-models/{device['profile_id']}", json=MODEL, headers=CREATE)
    assert model.status_code == 201, model.text
    # Two hours that ended well over the settling margin ago.
    start = hour_start(datetime.now(UTC)) - 3 * HOUR
    cut_then_idle(seller, device["id"], start)

    body = {
        "kind": "capacity",
        "title": "Machining centre hours",
        "category": "cnc_machining",
        "price": 18_000,
        "unit": "hour",
        "ship_from": "CN-32",
        "device_id": device["id"],
    }
    listing = seller.publish(seller.ok("POST", "/v1/listings", 201, json=body))
    period = {"start": rfc3339(start), "end": rfc3339(start + 2 * HOUR)}
    seller.ok("POST", f"/v1/listings/{listing['id']}/availability", json=period)
    order = buyer.placed(listing, 2, slots=[rfc3339(start), rfc3339(start + HOUR)])
    buyer.move(order, "fund")
    buyer.move(order, "dispute")

    def evidence() -> list[dict] | None:
        answer = operator.http.get(f"/v1/orders/{order['id']}")
        assert answer.status_code == 200, answer.text
        found = answer.json()["slot_evidence"]
        return found if len(found) == 2 else None

    first, second = eventually(evidence, timeout=30, what="the booked slots' evidence")
    assert (first["starts_at"], first["verdict"], first["producing_seconds"]) == (rfc3339(start), "ran", 3600)
    assert (second["starts_at"], second["verdict"], second["producing_seconds"]) == (
        rfc3339(start + HOUR),
        "idle",
        0,
    )
    assert buyer.ok("GET", f"/v1/orders/{order['id']}")["slot_evidence"] == [first, second]
    stranger = new_trader(platform, operator)
    assert stranger.http.get(f"/v1/orders/{order['id']}").status_code == 404
    ruling = {"refund": 0, "reason": "the machine ran as booked"}
    resolved = operator.http.post(f"/v1/orders/{order['id']}/resolve", json=ruling, headers=keyed())
    assert resolved.status_code == 200, resolved.text
