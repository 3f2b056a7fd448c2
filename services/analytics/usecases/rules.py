"""Use cases of alarm rules: each rule watches one profile of its tenant, checked against
that profile's latest channels, which the registry tells."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from services.analytics.domain.alarms import RULE_ACTOR
from services.analytics.domain.definitions import clear_from, create_from
from services.analytics.domain.rules import AlarmRule
from services.analytics.queries import alarms as alarm_queries
from services.analytics.queries import rules as queries
from services.analytics.usecases import Clock, UnitOfWorkFactory, utc_now
from services.analytics.usecases.alarms import clear_alarm
from services.analytics.usecases.rule_input import RuleRequestSchema, check_against_profile
from services.kit.errors import FieldViolation, InvalidArgument, NotFound, VersionMismatch
from services.kit.pagination import decode_cursor, keyset_page, page_size
from services.kit.registry import Registry
from services.kit.validation import load, require_uuid

RULE_SCHEMA = RuleRequestSchema()


class Rules:
    def __init__(self, unit_of_work: UnitOfWorkFactory, registry: Registry, clock: Clock = utc_now) -> None:
        self._unit_of_work = unit_of_work
        self._registry = registry
        self._clock = clock

    def create(self, tenant_id: str, profile_id: str, definition: dict[str, Any]) -> AlarmRule:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        profile_id = require_uuid(profile_id, "rule.profile_id")
        loaded = self._checked(tenant_id, profile_id, definition)
        now = self._clock()
        rule = _rule(str(uuid.uuid4()), tenant_id, profile_id, loaded, 1, now, now)
        with self._unit_of_work() as uow:
            queries.add_rule(uow.connection, rule)
            uow.commit()
        return rule

    def get(self, tenant_id: str, rule_id: str) -> AlarmRule:
        tenant_id, rule_id = require_uuid(tenant_id, "tenant_id"), require_uuid(rule_id, "rule_id")
        with self._unit_of_work(read_only=True) as uow:
            rule = queries.find_rule(uow.connection, tenant_id, rule_id)
        if rule is None:
            raise NotFound("alarm rule not found")
        return rule

    def list(self, tenant_id: str, profile_id: str, size: int, cursor: str) -> tuple[list[AlarmRule], str]:
        tenant_id = require_uuid(tenant_id, "tenant_id")
        profile_id = require_uuid(profile_id, "profile_id") if profile_id else ""
        limit = page_size(size)
        listing = {"rules": tenant_id, "profile_id": profile_id}
        after = decode_cursor(cursor, listing)
        with self._unit_of_work(read_only=True) as uow:
            found = queries.list_rules(uow.connection, tenant_id, profile_id or None, after, limit + 1)
        return keyset_page(found, limit, lambda r: [r.profile_id, r.id], listing)

    def update(
        self, tenant_id: str, rule_id: str, expected_version: int, definition: dict[str, Any]
    ) -> AlarmRule:
        current = self.get(tenant_id, rule_id)
        _require_version(current, expected_version)
        loaded = self._checked(current.tenant_id, current.profile_id, definition)
        updated = _rule(
            current.id,
            current.tenant_id,
            current.profile_id,
            loaded,
            current.version + 1,
            current.created_at,
            self._clock(),
        )
        with self._unit_of_work() as uow:
            if not queries.save_rule(uow.connection, updated, expected_version):
                raise VersionMismatch("the rule changed meanwhile; read it again")
            uow.commit()
        return updated

    def delete(self, tenant_id: str, rule_id: str, expected_version: int) -> AlarmRule:
        """Deletes the rule and clears its active alarms, in one transaction."""
        current = self.get(tenant_id, rule_id)
        _require_version(current, expected_version)
        now = self._clock()
        deleted = replace(current, version=current.version + 1, updated_at=now, deleted=True)
        with self._unit_of_work() as uow:
            if not queries.save_rule(uow.connection, deleted, expected_version):
                raise VersionMismatch("the rule changed meanwhile; read it again")
            for alarm in alarm_queries.active_alarms_of_rule(uow.connection, rule_id):
                clear_alarm(uow, alarm, RULE_ACTOR, now)
            uow.commit()
        return deleted

    def _checked(self, tenant_id: str, profile_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        loaded = load(RULE_SCHEMA, {"rule": definition})["rule"]
        channels = self._registry.profile_channels(tenant_id, profile_id)
        if channels is None:
            raise InvalidArgument([FieldViolation("rule.profile_id", "no such profile")])
        check_against_profile(loaded, channels)
        return loaded


def _require_version(rule: AlarmRule, expected_version: int) -> None:
    if expected_version < 1:
        raise InvalidArgument([FieldViolation("expected_version", "name the version you read (1 or more)")])
    if rule.version != expected_version:
        raise VersionMismatch(f"the rule is at version {rule.version}, not {expected_version}")


def _rule(
    rule_id: str,
    tenant_id: str,
    profile_id: str,
    loaded: dict[str, Any],
    version: int,
    created: Any,
    now: Any,
) -> AlarmRule:
    return AlarmRule(
        id=rule_id,
        tenant_id=tenant_id,
        profile_id=profile_id,
        name=loaded["name"],
        labels=loaded["labels"],
        create=create_from(loaded["create"]),
        clear=clear_from(loaded["clear"]),
        version=version,
        created_at=created,
        updated_at=now,
    )
