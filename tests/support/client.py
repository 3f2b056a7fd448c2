"""A small client of the partner API for tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


class PartnerClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def create_tenant(self, name: str = "Acme Precision", country: str = "CN") -> dict[str, Any]:
        response = self.http.post(
            "/v1/tenants", json={"name": name, "country": country, "size_class": "small"}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def register_device(self, serial_number: str | None = None, **headers: str) -> dict[str, Any]:
        body = {"serial_number": serial_number or f"CNC-{uuid.uuid4().hex[:8]}", "display_name": "Mill"}
        response = self.http.post("/v1/devices", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    def as_tenant(self, api_key: str) -> PartnerClient:
        return PartnerClient(str(self.http.base_url), api_key)
