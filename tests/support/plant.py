"""A tenant of the running platform with people signed in, for the console's plant pages:
made through the registry's real sign-up (approved by the operator), its admin's API key
for the partner API, and real sessions of an admin and an invited viewer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from gantry.v1 import people_pb2 as pb
from gantry.v1 import people_pb2_grpc

from services.console.sessions import csrf_token
from tests.support.client import PartnerClient
from tests.support.console_people import Person, new_operator, new_user, signed_in, signed_up
from tests.support.platform import Platform
from tests.support.waiting import eventually

HOT = {"channel": "spindle_temp", "operator": "gt", "value": {"number": 90}}


@dataclass
class SignedIn:
    user_id: str
    session_token: str
    csrf_token: str


@dataclass
class PlantTenant:
    tenant_id: str
    partner: PartnerClient
    admin: SignedIn
    viewer: SignedIn

    def overheating_rule(self, name: str = "spindle overheating") -> dict[str, Any]:
        """A rule of the tenant's profile raised by any spindle above 90 °C."""
        trigger = {"kind": "simple", "condition": {"predicates": [HOT]}}
        body = {
            "profile_id": self.partner.profile_id(),
            "name": name,
            "create": [{"severity": "major", "trigger": trigger}],
        }
        response = self.partner.http.post("/v1/alarm-rules", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def send(self, device_id: str, **values: Any) -> None:
        """One reading of the device, now, through the gateway; sent again while telemetry
        has not yet heard of a device just registered."""

        def accepted() -> bool:
            sample = {"ts": int(time.time() * 1000), "values": values}
            response = self.partner.http.post(
                "/v1/telemetry", json={"devices": [{"device_id": device_id, "samples": [sample]}]}
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            if answer["accepted"] == len(values):
                return True
            assert all(r["reason"] == "unknown_device" for r in answer["rejections"]), answer
            return False

        eventually(accepted, 15, "telemetry to accept the reading")

    def alarm_of(self, device_id: str, **values: Any) -> dict[str, Any]:
        """The device's alarm raised by these values: sent again until analytics, which
        learns of new devices and rules from events, has raised it."""

        def raised() -> dict[str, Any] | None:
            alarms = self.partner.http.get("/v1/alarms", params={"device_id": device_id}).json()["items"]
            if alarms:
                return alarms[0]
            self.send(device_id, **values)
            return None

        self.send(device_id, **values)
        return eventually(raised, 60, "the alarm to be raised")


def _signed_in(people: people_pb2_grpc.PeopleServiceStub, person: Person) -> SignedIn:
    session = signed_in(people, person)
    principal = session.principal
    return SignedIn(principal.user.id, session.token, csrf_token(principal.csrf_secret, principal.session_id))


def plant_tenant(channel: grpc.Channel, gateway_url: str, company: str) -> PlantTenant:
    """A new tenant (its own e-mail domain and client address, so that sign-up's hourly
    limits never bite) with an admin and a viewer signed in."""
    people = people_pb2_grpc.PeopleServiceStub(channel)
    confirmed, email = signed_up(people, company)
    admin = Person(confirmed.admin, email)
    viewer = new_user(people, admin, pb.ROLE_VIEWER, name="Vic Viewer")
    return PlantTenant(
        confirmed.tenant.id,
        PartnerClient(gateway_url, confirmed.api_key),
        _signed_in(people, admin),
        _signed_in(people, viewer),
    )


def operator(channel: grpc.Channel) -> SignedIn:
    """A new platform operator (a person of no tenant), signed in."""
    people = people_pb2_grpc.PeopleServiceStub(channel)
    return _signed_in(people, new_operator(people))


def console_url(platform: Platform) -> str:
    return f"http://127.0.0.1:{platform.env['GANTRY_CONSOLE_PORT']}"


def console_client(console_url: str, member: SignedIn) -> httpx.Client:
    """The console as the member's browser reaches it: their session cookie, redirects not followed."""
    return httpx.Client(base_url=console_url, cookies={"gantry_session": member.session_token}, timeout=15)
