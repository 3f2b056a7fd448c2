"""A small client of the partner API for tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

PROFILE = {
    "name": "VMC-850",
    "manufacturer": "Haas",
    "model": "VF-2",
    "channels": [
        {
            "key": "spindle_temp",
            "value_type": "float",
            "unit": "degC",
            "min": -20,
            "max": 150,
            "sample_interval_ms": 1000,
        },
        {"key": "mode", "value_type": "enum", "allowed_values": ["idle", "cutting", "alarm"]},
    ],
}


class PartnerClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self._profile_id: str | None = None

    def create_tenant(self, name: str = "Acme Precision", country: str = "CN") -> dict[str, Any]:
        response = self.http.post(
            "/v1/tenants", json={"name": name, "country": country, "size_class": "small"}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def create_profile(self) -> dict[str, Any]:
        response = self.http.post("/v1/device-profiles", json=PROFILE)
        assert response.status_code == 201, response.text
        return response.json()

    def profile_id(self) -> str:
        if self._profile_id is None:
            self._profile_id = self.create_profile()["id"]
        return self._profile_id

    def device_body(self, serial_number: str | None = None) -> dict[str, Any]:
        return {
            "serial_number": serial_number or f"CNC-{uuid.uuid4().hex[:8]}",
            "display_name": "Mill",
            "profile_id": self.profile_id(),
        }

    def register_device(self, serial_number: str | None = None, **headers: str) -> dict[str, Any]:
        response = self.http.post("/v1/devices", json=self.device_body(serial_number), headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    def as_tenant(self, api_key: str) -> PartnerClient:
        return PartnerClient(str(self.http.base_url), api_key)
