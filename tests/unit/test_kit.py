from __future__ import annotations

import json

import pytest

from services.kit import platform, settings
from services.kit.db import json_text, normalise_url
from services.kit.errors import FieldViolation, InvalidArgument


def test_marshmallow_errors_flatten_to_dotted_field_paths() -> None:
    error = InvalidArgument.from_messages(
        {"name": ["too long"], "labels": {"3": {"key": ["empty"]}}, "items": [["a", "b"]]}
    )
    assert error.violations == [
        FieldViolation("name", "too long"),
        FieldViolation("labels.3.key", "empty"),
        FieldViolation("items", "a"),
        FieldViolation("items", "b"),
    ]


def test_settings_have_local_defaults_and_gantry_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GANTRY_REGISTRY_GRPC_PORT",
        "GANTRY_REGISTRY_DATABASE_URL",
        "GANTRY_DATA_DIR",
        "GANTRY_BUS_NAMESPACE",
    ):
        monkeypatch.delenv(name, raising=False)
    assert settings.grpc_port("registry") == 50051
    assert settings.database_url("registry") == "sqlite:///var/registry.db"
    assert settings.bus_namespace() == "gantry"
    monkeypatch.setenv("GANTRY_REGISTRY_GRPC_PORT", "6000")
    monkeypatch.setenv("GANTRY_DATA_DIR", "/data")
    assert settings.grpc_port("registry") == 6000
    assert settings.database_url("registry") == "sqlite:////data/registry.db"
    assert settings.grpc_target("registry") == "127.0.0.1:6000"


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u:p%40ss@db/registry") == "postgresql+psycopg://u:p%40ss@db/registry"
    assert normalise_url("sqlite:///var/x.db") == "sqlite:///var/x.db"


def test_the_services_settings_name_are_the_ones_the_platform_migrates() -> None:
    assert tuple(service.name for service in platform.SERVICES) == settings.SERVICES


def test_json_columns_are_written_as_the_standard_library_reads_them() -> None:
    value = {"a": [1, 2.5, None, True], "nested": {"é": "中文"}, 7: "int key"}
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))
    # Beyond orjson's 64 bits: the standard library writes it.
    assert json.loads(json_text({"big": 2**70})) == {"big": 2**70}
