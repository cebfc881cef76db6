"""Layer: the named rules a Table Schema cannot express, registered by family.

Each rule is a function registered with the codes it may report and what it reads of
other tables: ``needs={"spans": ("span_id", "source_id")}`` means the table must be
read first and those columns are looked up. What stays in memory after a table is
checked (:func:`kept_columns`) is derived from these declarations, and a rule that
reads a column it does not declare fails at once (:class:`~..context.UndeclaredColumn`).

A rule that reads context state besides tables declares it too (``reads=``: the stored texts,
the spans whose offsets do not hold, every table's schema, the package, the release to compare
with), and one that fills such state says so (``writes=``); an undeclared read or write fails
at once (:class:`~..context.UndeclaredState`). A rule that writes nothing and reads only
tables and :data:`KEPT_STATE` can be kept between runs (:attr:`Rule.keepable`): its findings
are a function of what it declares. So can one that fills only :data:`KEPT_FILLED` (``gathered``,
by adding to its lists and dicts; ``broken_spans``): what it adds is kept beside its findings
(:mod:`..kept_state`).

Rules read the typed tables (indexed by physical line) and the schemas' project
properties (``precisionField``, ``notBefore``, ``codelist``, ``entityTypes``,
``multiline``, ``vocabulary``, ``rowOrder``); none restates a column's type or
constraint. A family is a module of this package; every module here is loaded.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from ...report import Finding
from ...schema import TableSpec, TypedTable
from ..context import ENGINE, KEPT_FILLED, KEPT_STATE, STATE, Context

# Tables read before the others: every table's rules look them up.
READ_FIRST = ("retractions",)

TableRule = Callable[[Context, TypedTable], Iterator[Finding]]
PackageRule = Callable[[Context], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    codes: tuple[str, ...]
    function: Callable
    tables: tuple[str, ...] | None = None  # the tables it checks; None: every table (package rules: none)
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # table -> columns it reads; read first
    per_table: bool = True
    applies: Callable[[TableSpec], bool] | None = None  # whether a table's schema gives the rule anything to check
    family: str = ""
    gathers: bool = False  # reports nothing: keeps what package rules read of a whole table (ctx.gathered)
    reads: tuple[str, ...] = ()  # context state it reads besides tables (STATE)
    writes: tuple[str, ...] = ()  # context state it fills (STATE)
    keeps: Mapping[str, type] = field(default_factory=dict)  # what it adds to ctx.gathered, by key: list, dict or set

    @property
    def keepable(self) -> bool:
        """Whether its findings, and the state it fills, can be kept between runs: a table rule that
        fills only state kept with its findings (:data:`KEPT_FILLED`) and reads only tables and state
        a key can hold."""
        return self.per_table and set(self.writes) <= set(KEPT_FILLED) and set(self.reads) <= set(KEPT_STATE)


RULES: list[Rule] = []


def _needs(needs: Mapping[str, tuple[str, ...]] | None) -> dict[str, tuple[str, ...]]:
    return {table: tuple(columns) for table, columns in (needs or {}).items()}


def rule(
    *codes: str,
    tables: tuple[str, ...] | None = None,
    needs: Mapping[str, tuple[str, ...]] | None = None,
    applies: Callable[[TableSpec], bool] | None = None,
    reads: tuple[str, ...] = (),
    writes: tuple[str, ...] = (),
    keeps: Mapping[str, type] | None = None,
) -> Callable[[TableRule], TableRule]:
    """Register a rule that checks one table at a time, once the tables it ``needs`` are read
    (``keeps``: what it adds to ``ctx.gathered`` when it ``writes`` it)."""

    return _registering(codes, tables, needs, applies, gathers=False, reads=reads, writes=writes, keeps=keeps)


def gather(
    *,
    keeps: Mapping[str, type],
    tables: tuple[str, ...] | None = None,
    needs: Mapping[str, tuple[str, ...]] | None = None,
    applies: Callable[[TableSpec], bool] | None = None,
    reads: tuple[str, ...] = (),
) -> Callable[[TableRule], TableRule]:
    """Register a step that reports nothing: it keeps what a package rule needs of each table it reads,
    under the keys of ``ctx.gathered`` it declares (``keeps``: key -> list, dict or set)."""

    return _registering((), tables, needs, applies, gathers=True, reads=reads, writes=("gathered",), keeps=keeps)


def _registering(
    codes: tuple[str, ...],
    tables: tuple[str, ...] | None,
    needs: Mapping[str, tuple[str, ...]] | None,
    applies: Callable[[TableSpec], bool] | None,
    *,
    gathers: bool,
    reads: tuple[str, ...],
    writes: tuple[str, ...],
    keeps: Mapping[str, type] | None = None,
) -> Callable[[TableRule], TableRule]:
    unknown = (set(reads) | set(writes)) - set(STATE)
    if unknown:
        raise ValueError(f"unknown context state {sorted(unknown)}: one of {', '.join(STATE)}")
    if ("gathered" in writes) != bool(keeps) or not all(kind in (list, dict, set) for kind in (keeps or {}).values()):
        raise ValueError("a rule that writes gathered declares what it adds to it: keeps={key: list, dict or set}")

    def register(function: TableRule) -> TableRule:
        family = function.__module__.rsplit(".", 1)[-1]
        RULES.append(
            Rule(
                function.__name__,
                codes,
                function,
                tables,
                _needs(needs),
                applies=applies,
                family=family,
                gathers=gathers,
                reads=tuple(reads),
                writes=tuple(writes),
                keeps=dict(keeps or {}),
            )
        )
        return function

    return register


def package_rule(
    *codes: str, needs: Mapping[str, tuple[str, ...]] | None = None
) -> Callable[[PackageRule], PackageRule]:
    """Register a rule that runs once, after every table is read (it reads only what it ``needs``)."""

    def register(function: PackageRule) -> PackageRule:
        family = function.__module__.rsplit(".", 1)[-1]
        RULES.append(Rule(function.__name__, codes, function, needs=_needs(needs), per_table=False, family=family))
        return function

    return register


def kept_columns() -> dict[str, set[str]]:
    """Per table, the columns rules of other tables read: kept after the table is checked."""
    kept: dict[str, set[str]] = {}
    for registered in RULES:
        for table, columns in registered.needs.items():
            kept.setdefault(table, set()).update(columns)
    return kept


def table_rules(name: str, spec: TableSpec | None = None) -> list[Rule]:
    """The rules that check table ``name``, in order."""
    return [
        r
        for r in RULES
        if r.per_table
        and (r.tables is None or name in r.tables)
        and (r.applies is None or spec is None or r.applies(spec))
    ]


def run_table(ctx: Context, rule_: Rule, typed: TypedTable) -> list[Finding]:
    ctx.running(rule_.name, typed.spec.name, rule_.needs, rule_.reads, rule_.writes)  # raises only before it swaps
    try:
        found = list(rule_.function(ctx, typed))
    finally:
        ctx.done()
    if rule_.gathers and found:
        raise AssertionError(f"{rule_.name} gathers and must report nothing; register it with @rule and its codes")
    return found


def run_package(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for rule_ in RULES:
        if not rule_.per_table:
            ctx.running(rule_.name, None, rule_.needs)
            try:
                findings.extend(rule_.function(ctx))
            finally:
                ctx.done()
    return findings


def catalogue() -> list[tuple[str, tuple[str, ...], str]]:
    """(rule name, codes, first line of its docstring) for documentation."""
    return [(r.name, r.codes, (r.function.__doc__ or "").strip().splitlines()[0]) for r in RULES]


for _family in sorted(module.name for module in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_family}")

__all__ = [
    "ENGINE",
    "READ_FIRST",
    "RULES",
    "Context",
    "Rule",
    "catalogue",
    "gather",
    "kept_columns",
    "rule",
    "package_rule",
]
