"""What the transitions of one flush of the evaluator do to alarms, written together.

Transitions are noted as the evaluator makes them, in order; a RAISED one takes a new
alarm id at once, since later transitions of the same flush name it. When the flush
ends, the alarms they touch are read in one query and moved in memory in the same order
(`settle`), then written in one statement per kind of change (`write`), with their
events: a flush of many transitions costs a few statements, not a few per transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter
from sqlalchemy import Connection

from services.analytics.domain.alarms import RULE_ACTOR, Alarm
from services.analytics.domain.evaluation import CompiledRule, forget_alarm
from services.analytics.domain.states import DeviceState, Transition, TransitionKind
from services.analytics.queries import alarms as queries
from services.analytics.queries.directory import KnownDevice
from services.analytics.usecases.alarms import alarm_event
from services.kit.batches import utc_of
from services.kit.db import UnitOfWork
from services.kit.ids import new_uuid

TRANSITIONS = Counter(
    "gantry_analytics_alarm_transitions_total", "Alarms raised, changed or cleared", ["kind"]
)


@dataclass(frozen=True)
class Move:
    device: KnownDevice
    state: DeviceState
    transition: Transition
    alarm_id: str

    @property
    def pair(self) -> tuple[str, str]:
        return self.device.id, self.transition.rule_id


class AlarmBook:
    def __init__(self, rules: Mapping[str, CompiledRule]) -> None:
        self._rules = rules
        self._moves: list[Move] = []
        self._changed: list[Alarm] = []
        self._created: list[Alarm] = []

    def note(self, device: KnownDevice, state: DeviceState, transition: Transition) -> None:
        TRANSITIONS.labels(transition.kind.value).inc()
        alarm_id = transition.alarm_id
        if transition.kind is TransitionKind.RAISED:
            alarm_id = new_uuid()
            state.rules[transition.rule_id].alarm_id = alarm_id
        self._moves.append(Move(device, state, transition, alarm_id))

    def settle(self, uow: UnitOfWork) -> None:
        """Reads and locks the alarms the noted transitions move, moves them in the order
        noted and emits their events; `write` saves them."""
        if not self._moves:
            return
        raised = [move.pair for move in self._moves if move.transition.kind is TransitionKind.RAISED]
        named = [m.alarm_id for m in self._moves if m.transition.kind is not TransitionKind.RAISED]
        found, active = queries.alarms_moved(uow.connection, named, raised)
        alarms = {alarm.id: alarm for alarm in (*found, *active.values())}
        ledger = _Ledger(uow, alarms, {pair: alarm.id for pair, alarm in active.items()})
        for move in self._moves:
            if move.transition.kind is TransitionKind.RAISED:
                ledger.raise_(move, self._rules[move.transition.rule_id])
            else:
                ledger.move(move)
        self._changed = [ledger.alarms[i] for i in ledger.changed - ledger.created]
        self._created = [ledger.alarms[i] for i in ledger.created]
        self._moves.clear()

    def write(self, connection: Connection) -> None:
        """Saves the alarms `settle` moved, by statements whose results are not read, so
        that a pipeline may carry them. Changes first: an alarm cleared in this flush must
        be inactive before the one raised after it for the same (device, rule) is added,
        or the unique index refuses."""
        queries.save_alarms(connection, self._changed)
        queries.add_alarms(connection, self._created)
        self._changed, self._created = [], []


class _Ledger:
    """The alarms of a flush as they move, and which were created or changed."""

    def __init__(self, uow: UnitOfWork, alarms: dict[str, Alarm], active: dict[tuple[str, str], str]) -> None:
        self.uow = uow
        self.alarms = alarms
        self.active = active
        # A RAISED transition's new id, for an alarm found active already under another.
        self.aliases: dict[str, str] = {}
        self.created: set[str] = set()
        self.changed: set[str] = set()

    def raise_(self, move: Move, rule: CompiledRule) -> None:
        transition, at = move.transition, utc_of(move.transition.ts_ms)
        existing = self.active.get(move.pair)
        if existing is not None:
            # The (device, rule) has an active alarm the state did not know of: raising
            # again updates it, so that one (device, rule) never has two.
            self.aliases[move.alarm_id] = existing
            if move.state.rules[transition.rule_id].alarm_id == move.alarm_id:
                move.state.rules[transition.rule_id].alarm_id = existing
            self._change_severity(existing, transition, at)
            return
        alarm = Alarm(
            id=move.alarm_id,
            tenant_id=move.device.tenant_id,
            device_id=move.device.id,
            rule_id=rule.rule.id,
            rule_version=rule.rule.version,
            name=rule.rule.name,
            severity=transition.severity,
            active=True,
            acknowledged=False,
            started_at=at,
            updated_at=at,
            raised_by=dict(transition.reading),
            severity_history=((transition.severity, at),),
        )
        self.alarms[alarm.id] = alarm
        self.active[move.pair] = alarm.id
        self.created.add(alarm.id)
        self.uow.emit(alarm_event("alarm.raised", alarm, RULE_ACTOR))

    def move(self, move: Move) -> None:
        alarm_id = self.aliases.get(move.alarm_id, move.alarm_id)
        alarm = self.alarms.get(alarm_id)
        if alarm is None or not alarm.active:
            # A person cleared it: it stays cleared, and the rule raises a new one once its
            # conditions have been unmet and are met anew.
            forget_alarm(move.state, move.transition.rule_id, move.alarm_id)
            return
        at = utc_of(move.transition.ts_ms)
        if move.transition.kind is TransitionKind.CLEARED:
            cleared = alarm.clear(RULE_ACTOR, at)
            self._put(cleared)
            self.active.pop(move.pair, None)
            self.uow.emit(alarm_event("alarm.cleared", cleared, RULE_ACTOR))
        else:
            self._change_severity(alarm_id, move.transition, at)

    def _change_severity(self, alarm_id: str, transition: Transition, at: datetime) -> None:
        alarm = self.alarms[alarm_id]
        if alarm.severity == transition.severity:
            return
        changed = alarm.change_severity(transition.severity, at)
        self._put(changed)
        self.uow.emit(alarm_event("alarm.severity_changed", changed, RULE_ACTOR, previous=alarm.severity))

    def _put(self, alarm: Alarm) -> None:
        self.alarms[alarm.id] = alarm
        self.changed.add(alarm.id)
