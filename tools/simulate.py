"""A small simulated factory for `make run`: one tenant, a few machining centres streaming
telemetry through the gateway once a second, so that a newcomer sees live data at once,
alarms raise, escalate and clear within a few minutes, and the machines' OEE, MTBF and
MTTR fill in shift by shift.

It uses the partner API as a partner would: the operator token creates the tenant
(remembered in var/simulated-factory-v3.json, so restarts keep the same devices), the
operator invites its first admin through the registry's PeopleService (the e-mail and
password printed sign in to the console), the tenant's key registers the devices, the machines' alarm rules, their machine model and
the plant's shift calendar (three shifts around the clock, Asia/Shanghai); an edge
gateway posts every device's readings to `POST /v1/telemetry`, and the first machine also
speaks ThingsBoard's device API with its own access token. The first machine's hours are
offered on the marketplace (tools/simulated_capacity.py), where the figures the platform
measures of it fill in.

Machines 2 and 4 overheat now and then (above 90 degC a major alarm, above 95 for 30 s
critical, cleared below 80); machine 3 goes silent for 90 s every 8 minutes (a warning
after 60 s without data); machine 5 breaks down for 3 minutes every 15; machine 1's
vibration spikes every 7 minutes (an anomaly alarm). Every machine sets up for 30 s
every 20 minutes, makes a part per 45 s of cutting (40 s is ideal), and scraps about 3
in 100.

Usage: python tools/simulate.py   (GANTRY_OPERATOR_TOKEN, GANTRY_GATEWAY_PORT and GANTRY_REGISTRY_GRPC_TARGET
as for the gateway)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import secrets
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import httpx
from gantry.v1 import people_pb2, people_pb2_grpc

from services.console.settings import ConsoleSettings
from services.kit.settings import grpc_target
from tools.partner_api import bearer, ok
from tools.simulated_capacity import offer_capacity

MACHINES = 5
STATE_VERSION = 3
READY_TIMEOUT_SECONDS = 120
PROFILE = {
    "name": "VMC-850 machining centre",
    "manufacturer": "Haas",
    "model": "VF-2",
    "channels": [
        {
            "key": "spindle_temp",
            "value_type": "float",
            "unit": "degC",
            "min": 10,
            "max": 90,
            "sample_interval_ms": 1000,
        },
        {
            "key": "spindle_rpm",
            "value_type": "int",
            "unit": "rpm",
            "min": 0,
            "max": 12000,
            "sample_interval_ms": 1000,
        },
        {
            "key": "vibration",
            "value_type": "float",
            "unit": "mm/s",
            "min": 0,
            "max": 12,
            "sample_interval_ms": 1000,
        },
        {
            "key": "power",
            "value_type": "float",
            "unit": "kW",
            "min": 0,
            "max": 30,
            "sample_interval_ms": 1000,
        },
        {
            "key": "mode",
            "value_type": "enum",
            "allowed_values": ["idle", "cutting", "setup", "fault", "alarm"],
        },
        {"key": "door_open", "value_type": "bool"},
        # Cumulative counts of parts made and scrapped, as the machine's PLC keeps them.
        {"key": "parts", "value_type": "int", "min": 0},
        {"key": "scrap", "value_type": "int", "min": 0},
    ],
}
# How the machining centres report what they do (ISO 22400): their mode, their counters,
# and the 40 s a part takes at the ideal cycle; a machine silent for 30 s is unreported.
MACHINE_MODEL = {
    "states": {
        "channel": "mode",
        "values": [
            {"value": "cutting", "category": "producing"},
            {"value": "setup", "category": "setup"},
            {"value": "fault", "category": "fault"},
            {"value": "alarm", "category": "fault"},
        ],
        "default": "idle",
    },
    "produced": {"channel": "parts"},
    "scrap": {"channel": "scrap"},
    "ideal_cycle_seconds": 40,
    "max_gap_seconds": 30,
}
SITE = "Suzhou plant"
# Three shifts around the clock, every day, so that figures are planned whenever it runs.
CALENDAR = {
    "zone": "Asia/Shanghai",
    "week": {
        day: [
            {"name": "night", "start": "00:00", "end": "08:00"},
            {"name": "early", "start": "08:00", "end": "16:00"},
            {"name": "late", "start": "16:00", "end": "00:00"},
        ]
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    },
}


OVERHEATING = {
    "name": "spindle overheating",
    "create": [
        {
            "severity": "critical",
            "trigger": {
                "kind": "duration",
                "seconds": 30,
                "condition": {
                    "predicates": [{"channel": "spindle_temp", "operator": "gt", "value": {"number": 95}}]
                },
            },
        },
        {
            "severity": "major",
            "trigger": {
                "kind": "simple",
                "condition": {
                    "predicates": [{"channel": "spindle_temp", "operator": "gt", "value": {"number": 90}}]
                },
            },
        },
    ],
    # Hysteresis: a spindle hovering around 90 degC raises one alarm, not one a second.
    "clear": {
        "trigger": {
            "kind": "simple",
            "condition": {
                "predicates": [{"channel": "spindle_temp", "operator": "lt", "value": {"number": 80}}]
            },
        }
    },
}
STOPPED_REPORTING = {
    "name": "machine stopped reporting",
    "create": [{"severity": "warning", "trigger": {"kind": "no_data", "seconds": 60}}],
}
VIBRATION_ANOMALY = {
    "name": "vibration anomaly",
    "create": [{"severity": "minor", "trigger": {"kind": "anomaly", "channel": "vibration"}}],
    "clear": {"unmet_for_seconds": 60},
}
# Machines (by index) that overheat now and then, the one that goes silent, the one that
# breaks down for 3 minutes every 15, and the one whose vibration spikes every 7 minutes.
OVERHEATING_MACHINES = (1, 3)
SILENT_MACHINE = 2
FAULTY_MACHINE = 4
SPIKY_MACHINE = 0
OVERHEAT_PERIOD, OVERHEAT_TICKS = 420, 150
SILENCE_PERIOD, SILENCE_START, SILENCE_TICKS = 480, 300, 90
FAULT_PERIOD, FAULT_START, FAULT_TICKS = 900, 600, 180
SPIKE_PERIOD, SPIKE_AT = 420, 200
# The factory's machines set up for 30 s every 20 minutes; a part takes 45 s of cutting,
# and 3 in 100 are scrap.
SETUP_PERIOD, SETUP_TICKS = 1200, 30
CUTTING_SECONDS_PER_PART = 45
SCRAP_RATE = 0.03


@dataclass
class Factory:
    tenant_id: str
    api_key: str
    devices: list[dict[str, str]]
    # The factory's first admin, who signs in to the console.
    admin_email: str
    admin_password: str


class Machine:
    """One machine's readings: cutting cycles with a warming spindle, rare alarms, and for
    some machines spells of overheating or silence."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.random = random.Random(index)
        self.temp = 24.0 + index
        self.phase = index * 7
        self.cut_seconds = 0
        self.parts = 0
        self.scrap = 0

    @property
    def silent(self) -> bool:
        return (
            self.index == SILENT_MACHINE
            and SILENCE_START <= self.phase % SILENCE_PERIOD < SILENCE_START + SILENCE_TICKS
        )

    def _target(self, cutting: bool) -> float:
        overheating = (
            self.index in OVERHEATING_MACHINES
            and (self.phase + 60 * self.index) % OVERHEAT_PERIOD < OVERHEAT_TICKS
        )
        return 98.0 if overheating else 55.0 if cutting else 28.0

    def _mode(self) -> str:
        """What the machine does this second. Setup, faults and alarms are the factory's
        machines' alone: the labelled signals (tools/signals.py) take the others' base."""
        in_factory = self.index < MACHINES
        if (
            self.index == FAULTY_MACHINE
            and FAULT_START <= self.phase % FAULT_PERIOD < FAULT_START + FAULT_TICKS
        ):
            return "fault"
        if in_factory and self.phase % SETUP_PERIOD < SETUP_TICKS:
            return "setup"
        if (self.phase // 45) % 3 == 2:
            return "idle"
        return "alarm" if in_factory and self.random.random() < 0.002 else "cutting"

    def _count(self, cutting: bool) -> None:
        if not cutting:
            return
        self.cut_seconds += 1
        if self.cut_seconds % CUTTING_SECONDS_PER_PART == 0:
            self.parts += 1
            self.scrap += self.random.random() < SCRAP_RATE

    def _vibration(self, cutting: bool) -> float:
        if self.index == SPIKY_MACHINE and self.phase % SPIKE_PERIOD == SPIKE_AT:
            return 11.5
        return round(abs(self.random.gauss(2.5 if cutting else 0.3, 0.4)), 3)

    def sample(self, now_ms: int) -> dict[str, Any]:
        self.phase += 1
        mode = self._mode()
        cutting = mode in ("cutting", "alarm")
        self._count(mode == "cutting")
        target = self._target(cutting)
        self.temp += (target - self.temp) * 0.03 + self.random.gauss(0, 0.2)
        rpm = int(8000 + 1500 * math.sin(self.phase / 9)) if cutting else 0
        return {
            "ts": now_ms,
            "values": {
                "spindle_temp": round(self.temp, 2),
                "spindle_rpm": rpm,
                "vibration": self._vibration(cutting),
                "power": round(12.0 + self.random.gauss(0, 1.0) if cutting else 0.8, 2),
                "mode": mode,
                "door_open": not cutting and self.phase % 45 < 5,
                "parts": self.parts,
                "scrap": self.scrap,
            },
        }


def wait_ready(http: httpx.Client) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if http.get("/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("simulated factory: the gateway did not become ready")


def open_factory(
    http: httpx.Client, people: people_pb2_grpc.PeopleServiceStub, operator_token: str, state: Path
) -> Factory:
    """The factory of an earlier run if its key still works, otherwise a new one, with a
    first admin the operator invited."""
    if state.exists():
        factory = Factory(**json.loads(state.read_text()))
        if http.get("/v1/devices", headers=bearer(factory.api_key)).status_code == 200:
            return factory
    tenant = ok(
        http.post(
            "/v1/tenants",
            headers=bearer(operator_token),
            json={"name": "Demo Precision Works", "country": "CN", "size_class": "small"},
        )
    )
    key = bearer(tenant["api_key"])
    profile = ok(http.post("/v1/device-profiles", headers=key, json=PROFILE))
    bodies = [
        {
            "serial_number": f"VMC-{i + 1:03d}",
            "display_name": f"Machining centre {i + 1}",
            "profile_id": profile["id"],
            "site": SITE,
            "production_line": "line-1",
        }
        for i in range(MACHINES)
    ]
    registered = ok(http.post("/v1/devices/bulk", headers=key, json={"devices": bodies}))["items"]
    devices = [
        {"id": d["id"], "serial_number": d["serial_number"], "token": d["access_token"]} for d in registered
    ]
    factory = Factory(tenant["id"], tenant["api_key"], devices, *first_admin(people, tenant["id"]))
    for rule in (OVERHEATING, STOPPED_REPORTING, VIBRATION_ANOMALY):
        ok(http.post("/v1/alarm-rules", headers=key, json={"profile_id": profile["id"], **rule}))
    create = {**key, "If-None-Match": "*"}
    ok(http.put(f"/v1/machine-models/{profile['id']}", headers=create, json=MACHINE_MODEL))
    ok(http.put(f"/v1/site-calendars/{quote(SITE, safe='')}", headers=create, json=CALENDAR))
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(asdict(factory)))
    state.chmod(0o600)
    return factory


def first_admin(people: people_pb2_grpc.PeopleServiceStub, tenant_id: str) -> tuple[str, str]:
    """The e-mail address and password of the tenant's first admin, whom the operator invites
    and who accepts at once."""
    email = f"admin-{secrets.token_hex(4)}@demo-precision.example"
    password = secrets.token_urlsafe(12)
    invitation = people.InviteUser(
        people_pb2.InviteUserRequest(
            actor=people_pb2.Actor(operator=True),
            email=email,
            name="Demo Admin",
            role=people_pb2.ROLE_ADMIN,
            tenant_id=tenant_id,
        )
    )
    people.AcceptInvitation(people_pb2.AcceptInvitationRequest(token=invitation.token, password=password))
    return email, password


def stream(http: httpx.Client, factory: Factory, ticks: int | None = None) -> None:
    """Sends one sample of every machine per second, `ticks` times or until stopped."""
    machines = [Machine(i) for i in range(len(factory.devices))]
    key = bearer(factory.api_key)
    tick = 0
    while ticks is None or tick < ticks:
        started = time.monotonic()
        now_ms = time.time_ns() // 1_000_000
        samples = [machine.sample(now_ms) for machine in machines]
        first, *rest = zip(factory.devices, samples, machines, strict=True)
        try:
            # The first machine speaks ThingsBoard's device API; an edge gateway sends the rest.
            http.post(f"/api/v1/{first[0]['token']}/telemetry", json=first[1])
            batch = {"devices": [{"device_id": d["id"], "samples": [s]} for d, s, m in rest if not m.silent]}
            http.post("/v1/telemetry", headers=key, json=batch)
        except httpx.HTTPError as error:
            print(f"simulated factory: {error}; retrying", file=sys.stderr, flush=True)
        tick += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = os.environ.get("GANTRY_GATEWAY_PORT", "8080")
    # Versioned: a factory set up by an older simulator lacks what this one sends.
    state = Path(os.environ.get("GANTRY_DATA_DIR", "var")) / f"simulated-factory-v{STATE_VERSION}.json"
    console = ConsoleSettings.from_env().public_url
    with (
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
        grpc.insecure_channel(grpc_target("registry")) as registry,
    ):
        wait_ready(http)
        people = people_pb2_grpc.PeopleServiceStub(registry)
        factory = open_factory(http, people, os.environ["GANTRY_OPERATOR_TOKEN"], state)
        device = factory.devices[0]["id"]
        listing = offer_capacity(http, factory.api_key, device)
        print(
            f"""simulated factory: {len(factory.devices)} machines streaming once a second.
  Console: {console}, signed in as {factory.admin_email} with password {factory.admin_password}
  Tenant API key: {factory.api_key}
  Try: curl -s http://127.0.0.1:{port}/v1/devices/{device}/telemetry/latest -H 'Authorization: Bearer {factory.api_key}'
  Its capacity, measured: curl -s http://127.0.0.1:{port}/v1/listings/{listing["id"]} -H 'Authorization: Bearer {factory.api_key}'""",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stream(http, factory)


if __name__ == "__main__":
    main()
