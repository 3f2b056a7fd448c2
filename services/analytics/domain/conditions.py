"""Conditions compiled once into one Python function each, called for every reading.

A compiled condition takes the device's latest values and its attributes and says
whether the condition holds. Values and operands are typed strictly: int and float are
numbers and take every operator; bool (never a number here) and str take EQ and NE.
A channel without a value, an attribute the device lacks, an operand whose type is not
the value's, or an operator the type does not take leaves a predicate unmet: no
combination raises.

The whole condition becomes a single expression, so that a reading costs one call per
condition rather than one per predicate and group. Its source holds only names made
here and fixed operators; channels, attributes and constants are bound to those names,
never written into it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.analytics.domain.rules import (
    EQUALITY_OPERATORS,
    RANGE_OPERATORS,
    Combinator,
    Condition,
    Operand,
    Operator,
    Predicate,
)

# (latest values by channel, device attributes) -> whether the condition holds.
Test = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]

# Exact classes, so that bool (a subclass of int) is not a number.
NUMBERS = frozenset({int, float})
# The classes a value of each class may be compared with.
KINDS: dict[type, frozenset[type]] = {
    int: NUMBERS,
    float: NUMBERS,
    bool: frozenset({bool}),
    str: frozenset({str}),
}
_SYMBOLS = {
    Operator.EQ: "==",
    Operator.NE: "!=",
    Operator.GT: ">",
    Operator.GE: ">=",
    Operator.LT: "<",
    Operator.LE: "<=",
}


def compile_condition(condition: Condition) -> Test:
    """`condition` as one function: ALL of nothing holds, ANY of nothing does not."""
    source = _Source()
    return source.function(source.condition(condition))


class _Source:
    """The expression of a condition, and the values its names stand for."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {"_N": NUMBERS, "_K": KINDS}
        self.locals = 0

    def function(self, expression: str) -> Test:
        namespace = dict(self.names)
        code = f"def test(values, attributes):\n    return {expression}\n"
        exec(compile(code, "<alarm condition>", "exec"), namespace)
        test: Test = namespace["test"]
        return test

    def condition(self, condition: Condition) -> str:
        members = [self.predicate(p) for p in condition.predicates]
        members += [self.condition(group) for group in condition.groups]
        if condition.combinator is Combinator.ANY:
            return f"({' or '.join(members)})" if members else "False"
        return f"({' and '.join(members)})" if members else "True"

    def predicate(self, predicate: Predicate) -> str:
        value = self.local()
        load = f"({value} := values.get({self.bind(predicate.channel)}))"
        if predicate.operator in RANGE_OPERATORS:
            return self.range(predicate, value, load)
        symbol = _SYMBOLS[predicate.operator]
        ordered = predicate.operator not in EQUALITY_OPERATORS
        if predicate.value.attribute:
            bound = self.local()
            fetch = f"({bound} := attributes.get({self.bind(predicate.value.attribute)}))"
            if ordered:
                return f"({load}.__class__ in _N and {fetch}.__class__ in _N and {value} {symbol} {bound})"
            return (
                f"({load}.__class__ in _K and {fetch}.__class__ in _K[{value}.__class__]"
                f" and {value} {symbol} {bound})"
            )
        constant = predicate.value.constant
        kinds = KINDS.get(constant.__class__)
        if kinds is None or (ordered and kinds is not NUMBERS):
            return "False"
        return f"({load}.__class__ in {self.bind(kinds)} and {value} {symbol} {self.bind(constant)})"

    def range(self, predicate: Predicate, value: str, load: str) -> str:
        lower = self.number(predicate.value)
        upper = self.number(predicate.upper)
        if lower is None or upper is None:
            return "False"
        checks = [f"{load}.__class__ in _N", *lower[1], *upper[1]]
        within = f"{lower[0]} <= {value} <= {upper[0]}"
        if predicate.operator is Operator.OUTSIDE:
            within = f"not ({within})"
        return f"({' and '.join([*checks, within])})"

    def number(self, operand: Operand | None) -> tuple[str, list[str]] | None:
        """A range bound's expression and the checks that it is a number; None when it
        can never be one."""
        if operand is None:
            return None
        if operand.attribute:
            bound = self.local()
            fetch = f"({bound} := attributes.get({self.bind(operand.attribute)}))"
            return bound, [f"{fetch}.__class__ in _N"]
        if operand.constant.__class__ not in NUMBERS:
            return None
        return self.bind(operand.constant), []

    def bind(self, value: Any) -> str:
        name = f"_b{len(self.names)}"
        self.names[name] = value
        return name

    def local(self) -> str:
        self.locals += 1
        return f"_v{self.locals}"
