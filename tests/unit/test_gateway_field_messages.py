"""Field errors say what is expected, not only that a pattern was missed."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

from marshmallow import Schema, fields, validate

import services.gateway.schemas
import services.registry.usecases
from services.gateway.schemas.tenants import TenantCreate, TenantListQuery, TenantPatch


def _modules(package: ModuleType) -> Iterator[ModuleType]:
    for info in pkgutil.iter_modules(package.__path__):
        yield importlib.import_module(f"{package.__name__}.{info.name}")


def _validators(field: fields.Field) -> Iterator[object]:
    yield from field.validators
    inner = [getattr(field, name, None) for name in ("inner", "key_field", "value_field")]
    for nested in filter(None, inner):
        yield from _validators(nested)


def _patterns_without_a_message() -> Iterator[str]:
    for package in (services.gateway.schemas, services.registry.usecases):
        for module in _modules(package):
            for name, schema in vars(module).items():
                if (
                    isinstance(schema, type)
                    and issubclass(schema, Schema)
                    and schema.__module__ == module.__name__
                ):
                    for field_name, field in schema._declared_fields.items():
                        for rule in _validators(field):
                            if isinstance(rule, validate.Regexp) and rule.error == rule.default_message:
                                yield f"{module.__name__}.{name}.{field_name}"


def test_every_pattern_says_what_it_expects() -> None:
    assert list(_patterns_without_a_message()) == []


def test_a_country_names_the_code_it_expects() -> None:
    expected = ["must be an ISO 3166-1 alpha-2 code in capitals, e.g. CN"]
    assert (
        TenantCreate().validate({"name": "A", "country": "cn", "size_class": "small"})["country"] == expected
    )
    assert TenantPatch().validate({"country": "cn"})["country"] == expected
    assert TenantListQuery().validate({"country": "cn"})["country"] == expected
