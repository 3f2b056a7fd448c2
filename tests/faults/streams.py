"""Partners that keep using the platform through its faults: clients streaming readings and
clients trading, on threads of the test process. Each retries what the platform did not
answer (a server error, a refused or broken connection) with a bounded backoff, as a well
behaved client would, and remembers exactly what the platform acknowledged: that is what
the platform promised to keep."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

# How long a client goes on retrying one request before giving up on it. Long enough to
# outlast any fault of the trial: a request given up on leaves the client in doubt.
RETRY_BUDGET_SECONDS = 45
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10
# Between requests, so that the clients leave the two cores to the platform.
PACE_SECONDS = 0.05
SAMPLES_PER_REQUEST = 10
# The channels of tests.support.client.PROFILE: every sample carries a value of each.
MODES = ("idle", "cutting", "alarm")
# Readings are dated an hour back, one millisecond apart, so that no two share a timestamp.
BACKDATE_MS = 3_600_000

# (device id, channel, timestamp in epoch milliseconds): the key of a stored reading.
Reading = tuple[str, str, int]


@dataclass(frozen=True)
class Attempt:
    """One request as the client saw it."""

    started: float
    ended: float
    # None: no answer at all (connection refused or reset, timed out).
    status: int | None
    # What a server error's body told the client.
    problem: str = ""

    @property
    def server_error(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 429


def send_until_answered(
    request: Callable[[], httpx.Response], attempts: list[Attempt]
) -> httpx.Response | None:
    """Sends a request until the platform answers it with other than a server error or
    429, backing off between tries; None when the retry budget ran out first."""
    first = time.monotonic()
    delay = FIRST_BACKOFF_SECONDS
    while True:
        started = time.monotonic()
        try:
            response: httpx.Response | None = request()
        except httpx.TransportError:
            response = None
        attempt = Attempt(started, time.monotonic(), response.status_code if response is not None else None)
        if response is not None and attempt.server_error:
            attempt = Attempt(attempt.started, attempt.ended, attempt.status, response.text[:1000])
        attempts.append(attempt)
        if not attempt.server_error:
            return response
        if time.monotonic() - first > RETRY_BUDGET_SECONDS:
            return None
        time.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@dataclass(frozen=True)
class Control:
    """What a test tells its client threads: to pause (`sending` cleared) and to stop."""

    stop: threading.Event = field(default_factory=threading.Event)
    sending: threading.Event = field(default_factory=_set_event)


class PacedClient(threading.Thread):
    """A client thread doing one unit of work after another until told to stop; the unit
    under way is finished (answered or given up on) before it stops or pauses."""

    def __init__(self, control: Control, *http: httpx.Client) -> None:
        super().__init__(daemon=True)
        self.control = control
        self.http_clients = http
        # Set before the client looks whether it may send: a pause sees it either busy or
        # holding back, never between the two.
        self.busy = False
        # What ended the thread early, if anything did.
        self.failure = ""
        self.attempts: list[Attempt] = []
        # Client errors the platform answered, and readings it refused, by reason.
        self.refused: Counter[str] = Counter()
        # Units of work given up on after the retry budget: their outcome is unknown.
        self.abandoned: Counter[str] = Counter()

    def run(self) -> None:
        try:
            while not self.control.stop.is_set():
                self.busy = True
                try:
                    if self.control.sending.is_set():
                        self.work_once()
                finally:
                    self.busy = False
                self.control.stop.wait(PACE_SECONDS)
        except Exception as error:  # reported with the scenario's invariants
            self.failure = repr(error)
        finally:
            for http in self.http_clients:
                http.close()

    def work_once(self) -> None:
        raise NotImplementedError


def gateway_client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT_SECONDS
    )


class ReadingClient(PacedClient):
    """Sends readings of one device through `POST /v1/telemetry`, each request a new batch
    of distinct timestamps; a retry sends the same batch again."""

    def __init__(self, base_url: str, api_key: str, device_id: str, control: Control) -> None:
        self.http = gateway_client(base_url, api_key)
        super().__init__(control, self.http)
        self.device_id = device_id
        self.acknowledged: list[Reading] = []
        self.next_ts = time.time_ns() // 1_000_000 - BACKDATE_MS

    def work_once(self) -> None:
        samples = self.next_samples()
        body = {"devices": [{"device_id": self.device_id, "samples": samples}]}
        response = send_until_answered(lambda: self.http.post("/v1/telemetry", json=body), self.attempts)
        readings = [(self.device_id, channel, s["ts"]) for s in samples for channel in s["values"]]
        if response is None:
            self.abandoned["readings"] += len(readings)
        elif response.status_code != 200:
            self.refused[f"HTTP {response.status_code}"] += len(readings)
        else:
            self.acknowledge(samples, response.json())

    def next_samples(self) -> list[dict[str, Any]]:
        samples = []
        for _ in range(SAMPLES_PER_REQUEST):
            samples.append(
                {
                    "ts": self.next_ts,
                    "values": {"spindle_temp": 20 + self.next_ts % 100 / 10, "mode": MODES[self.next_ts % 3]},
                }
            )
            self.next_ts += 1
        return samples

    def acknowledge(self, samples: list[dict[str, Any]], result: dict[str, Any]) -> None:
        """Keeps the readings the answer accepted; a refused one is the platform's verdict
        on it, not a promise to keep it."""
        refused = {(r["sample_index"], r["channel"]) for r in result["rejections"]}
        self.refused.update(r["reason"] for r in result["rejections"])
        for index, sample in enumerate(samples):
            for channel in sample["values"]:
                if (index, channel) not in refused:
                    self.acknowledged.append((self.device_id, channel, sample["ts"]))


@dataclass(frozen=True)
class Buyer:
    tenant_id: str
    api_key: str


# What each round of a trading client moves, in minor units of CNY.
DEPOSIT = 10_000
WITHDRAWAL = 700
CURRENCY = "CNY"


class TradingClient(PacedClient):
    """A buyer trading through the gateway: the operator deposits money for it, it places
    an order of one piece, funds it (the escrow holds the money) and withdraws some. Every
    call carries an Idempotency-Key, and a retry the same key: one effect at most."""

    def __init__(
        self, base_url: str, operator_token: str, buyer: Buyer, listing_id: str, control: Control
    ) -> None:
        self.operator = gateway_client(base_url, operator_token)
        self.http = gateway_client(base_url, buyer.api_key)
        super().__init__(control, self.operator, self.http)
        self.buyer = buyer
        self.listing_id = listing_id
        # What the platform told this client it did.
        self.deposited = 0
        self.funded = 0
        self.withdrawn = 0
        self.orders_placed = 0

    def work_once(self) -> None:
        deposit = {"credit_tenant_id": self.buyer.tenant_id, "currency": CURRENCY, "amount": DEPOSIT}
        if self.keyed(self.operator, "/v1/accounts/deposits", deposit, 201, "deposit"):
            self.deposited += DEPOSIT
        order = self.keyed(
            self.http, "/v1/orders", {"listing_id": self.listing_id, "quantity": 1}, 201, "order"
        )
        if order:
            self.orders_placed += 1
            if self.keyed(self.http, f"/v1/orders/{order['id']}/fund", {}, 200, "fund"):
                self.funded += order["total"]
        withdrawal = {"currency": CURRENCY, "amount": WITHDRAWAL}
        if self.keyed(self.http, "/v1/accounts/withdrawals", withdrawal, 201, "withdrawal"):
            self.withdrawn += WITHDRAWAL

    def keyed(
        self, http: httpx.Client, path: str, body: dict[str, Any], expected: int, what: str
    ) -> dict[str, Any] | None:
        """A money-moving call under a key of its own, retried with that key; its answer
        when the platform did it, None otherwise (counted as refused or abandoned)."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        body = {**body, "reason": f"fault trial {what}"}
        response = send_until_answered(lambda: http.post(path, json=body, headers=headers), self.attempts)
        if response is None:
            self.abandoned[what] += 1
            return None
        if response.status_code != expected:
            self.refused[f"{what} HTTP {response.status_code}"] += 1
            return None
        return response.json()


ClientKind = TypeVar("ClientKind", bound=PacedClient)


class Clients(Generic[ClientKind]):
    """Client threads started together and stopped together."""

    def __init__(self, clients: list[ClientKind], control: Control) -> None:
        self.clients = clients
        self.control = control

    def start(self) -> None:
        for client in self.clients:
            client.start()

    def stop(self) -> list[str]:
        """Stops every client once its request under way is settled; the names of those
        still running after the retry budget (none, unless the platform hangs)."""
        self.control.stop.set()
        self.control.sending.set()
        deadline = time.monotonic() + RETRY_BUDGET_SECONDS + REQUEST_TIMEOUT_SECONDS + 5
        for client in self.clients:
            client.join(max(0.0, deadline - time.monotonic()))
        return [client.name for client in self.clients if client.is_alive()]

    def failures(self) -> dict[str, str]:
        return {client.name: client.failure for client in self.clients if client.failure}

    def idle(self) -> bool:
        """No client has a request under way."""
        return not any(client.busy for client in self.clients)

    @property
    def attempts(self) -> list[Attempt]:
        return [attempt for client in self.clients for attempt in list(client.attempts)]

    def refused(self) -> Counter[str]:
        return sum((client.refused for client in self.clients), Counter())

    def abandoned(self) -> Counter[str]:
        return sum((client.abandoned for client in self.clients), Counter())
