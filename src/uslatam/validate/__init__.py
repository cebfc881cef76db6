"""``uslatam.validate(path) -> Report``: every layer runs, and all findings are reported together.

Layers: descriptor and schema lint; then table by table, structure (CSV reading,
header, rows, bytes and hash), columns parsed to their types, the table engines
(pandera schema derived from ``schemas/``, or the vectorised engine), foreign keys
and the named rules of that table; then frictionless through the descriptor (when it
is one of the engines) and the package rules. A finding several layers make is
reported once, naming each layer.

Engines: pandera at every size (``DEFAULT_ENGINES``); the vectorised engine (pyarrow
kernels) and frictionless only when asked for, as cross-checks (``CROSS_CHECK_ENGINES``: CI
runs frictionless on main, and the differential test keeps every engine's findings the same).
From ``LARGE_PACKAGE_BYTES`` of CSV the tables are read by pyarrow after the byte screen
(:func:`reads_with_arrow`), below it by the strict reader; either way every engine and rule
checks the same typed columns. Neither frictionless nor its profiles are imported unless it runs.
Memory holds one whole table at a time, plus the keys and the columns later tables' rules
declare they read (``rules.kept_columns``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import cache as result_cache
from ..boundary import offline_only
from ..package import DEFAULT_LIMITS, Limits, Package, PackageError, find_root, load
from ..paths import default_package
from ..report import Finding, Report
from ..schema import SchemaError, TableSpec, TypedTable
from ..transaction import interrupted, journal_problem
from . import columns, frictionless_check, inventory, kept_state, lint, pandera_check, rules, structure, table_cache
from .context import ENGINE, Context, isin, joined_cells

ENGINES = ("frictionless", "pandera", "vectorised")
DEFAULT_ENGINES = ("pandera",)  # the checks derived from schemas/, at every size
CROSS_CHECK_ENGINES = ("frictionless", "pandera")  # frictionless beside pandera: what `--engine both` runs
LARGE_PACKAGE_BYTES = 2_000_000  # CSV bytes (about 1,000 rows a table) from which pyarrow reads the tables


def reads_with_arrow(package: Package, engines: tuple[str, ...]) -> bool:
    """Whether tables are read by pyarrow (after the byte screen) rather than by the strict reader:
    from LARGE_PACKAGE_BYTES of CSV, or always for the vectorised engine; never for frictionless alone,
    whose cross-check is of the strict reader too."""
    if "vectorised" in engines:
        return True
    if "pandera" not in engines:
        return False
    size = sum(r.file.stat().st_size for r in package.resources if r.file is not None and r.file.is_file())
    return size >= LARGE_PACKAGE_BYTES


@dataclass
class Progress:
    """What ``progress`` is told after each table: enough for a display to show rows done and time left."""

    table: str
    rows: int
    tables_done: int
    tables_total: int
    bytes_done: int
    bytes_total: int


@offline_only
def validate(
    path: str | Path | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    engines: tuple[str, ...] | None = None,
    against: str | Path | bool | None = None,
    progress: Callable[[Progress], None] | None = None,
    require_history: bool = False,
    cache: bool | None = False,
    since: str | None = None,
) -> Report:
    """Validate the data package at ``path`` (a folder or its ``datapackage.json``); None, as
    in the CLI, means the package here or above, else this version's data.

    ``cache`` False (the default: a call writes nothing) never uses ``.uslatam/cache/``; None
    uses it where a forged one cannot have arrived (the top of a git work tree that tracks the
    descriptor and nothing there, :mod:`uslatam.cache`), as the command does; True wherever
    there is a descriptor. A report from the cache is the one a full run with the same inputs
    made (``report.cached``); a release to compare with given as ``against`` is never cached.
    When no stored report fits, each table's reading and engine checks are taken from
    ``.uslatam/tables/`` where its inputs are unchanged (:mod:`.table_cache`), with the findings of
    the foreign keys and rules (and what rules gather) whose every input is; the rest runs.

    ``since`` (a git revision) validates what changed since it: a table git reports unchanged
    is known by its blob there, never read or hashed, and its entry may have been written
    elsewhere (the main branch's run, handed over by CI). It uses the cache where ``cache``
    None would (anywhere with True) and skips the whole-run report, which would hash every file; an
    unknown revision, or a folder where the cache is not trusted (as for ``cache`` None), raises
    :class:`~.table_cache.SinceError`.

    ``engines`` None is ``DEFAULT_ENGINES`` (pandera). ``against`` is the release
    that no row may vanish from without a retraction: a folder or git revision; None
    finds the last release in git (if any: when CHANGELOG.md names one that the history
    cannot reach, a warning says the check was skipped, an error with ``require_history``);
    False skips it. Tables are read one at a time; once a table is checked only its keys and
    the columns later rules look up (``rules.kept_columns``) stay in memory. Never prints and never raises for bad data:
    problems are findings in the report.
    """
    if path is None:
        path = default_package()
    if since is not None:
        table_cache.require_work_tree(find_root(path))
        if not result_cache.allowed(find_root(path), cache or None):
            raise table_cache.SinceError(
                "--since takes unchanged tables from .uslatam/, trusted only at the top of a git work tree that "
                "tracks datapackage.json and nothing under .uslatam/: here git tracks something under .uslatam/ "
                "or the package is not at the work tree's top (--cache trusts it all the same)"
            )
        return _validate(path, limits, engines, against, progress, require_history, since=since)
    store = _cache_store(path, limits, engines, against, require_history, cache)
    if store is not None:
        found = result_cache.lookup_report(store, str(path))
        if found is not None:
            return found
    with result_cache.recording(store) as opened:
        report = _validate(path, limits, engines, against, progress, require_history, store=store)
    if store is not None:
        result_cache.store_report(store, report, opened)
    return report


def _cache_store(path, limits: Limits, engines, against, require_history: bool, wanted: bool | None):
    """The cache for this run, or None: not wanted, not safe here, or an input it cannot key."""
    import dataclasses

    if against not in (None, False) or wanted is False:
        return None
    root = find_root(path)
    if not result_cache.allowed(root, wanted):
        return None
    release: object = None
    if against is None:
        from ..history import commit_identity, last_release

        try:
            found = last_release(root)
            release = None if found is None else [*found, commit_identity(root, found[1])]
        except Exception as error:  # what the run will report about the history: part of the key
            release = f"{type(error).__name__}: {error}"
    options = {
        "limits": dataclasses.asdict(limits),
        "engines": list(engines) if engines else None,
        "against": against,
        "release": release,
        "require_history": require_history,
    }
    try:
        return result_cache.open_store(root, options, max_file_bytes=limits.max_file_bytes)
    except (result_cache.KeyUnavailable, OSError):  # a cache is never a reason for validation to fail
        return None


def _validate(
    path,
    limits: Limits,
    engines,
    against,
    progress,
    require_history: bool,
    *,
    store: result_cache.Store | None = None,
    since: str | None = None,
) -> Report:
    report = Report(package=str(path))
    try:
        package, findings = load(path, limits=limits)
    except PackageError as error:
        report.fatal = True
        report.merge(error.findings)
        return report
    report.merge(findings)
    foreign_journal = journal_problem(package.root)
    if foreign_journal is not None:
        report.merge([foreign_journal])
    elif interrupted(package.root):
        report.merge(
            [
                Finding(
                    "interrupted-change",
                    "a change to this package was cut off before it finished",
                    file=".uslatam/journal.json",
                )
            ]
        )
    report.merge(lint.check(package))
    report.merge(inventory.check(package, limits))
    engines = tuple(engines) if engines else DEFAULT_ENGINES
    report.engines = engines
    key_engine = next((e for e in engines if e != "frictionless"), None)
    fast = reads_with_arrow(package, engines)
    # Cells of the wrong type: the vectorised or pandera engine's finding; with frictionless alone, the reader's.
    parsed_by = (
        "vectorised" if "vectorised" in engines else pandera_check.ENGINE if "pandera" in engines else structure.ENGINE
    )
    kept = table_cache.for_run(
        package, limits=limits, engines=engines, fast=fast, parsed_by=parsed_by, store=store, since=since
    )

    specs: dict[str, TableSpec] = {}
    for resource in package.resources:
        try:
            specs[resource.name] = TableSpec.from_schema(resource.name, resource.schema)
        except (SchemaError, KeyError, TypeError) as error:
            report.merge(
                [
                    Finding(
                        "schema-error",
                        f"the schema cannot be used: {error}",
                        table=resource.name,
                        file=resource.schema_path,
                    )
                ]
            )
    tables: dict[str, TypedTable] = {}
    ctx = Context(
        package=package, tables=tables, specs=specs, baseline=_baseline(package.root, against, report, require_history)
    )
    ctx.keeping = kept.call if kept is not None else None
    pending = {resource.name for resource in package.resources}
    referenced = _referenced_fields(specs)
    deferred: list[tuple[str, object]] = []  # (table, rule or foreign key) waiting for a table not read yet
    sizes = {
        r.name: (r.file.stat().st_size if r.file is not None and r.file.is_file() else 0) for r in package.resources
    }
    bytes_done = 0
    first = [r for r in package.resources if r.name in rules.READ_FIRST]  # what every table's rules look up
    ordered = first + [r for r in package.resources if r.name not in rules.READ_FIRST]
    for number, resource in enumerate(ordered, 1):
        pending.discard(resource.name)
        spec = specs.get(resource.name)
        if spec is not None:
            typed, findings, reused = _read_and_check(resource, spec, limits, engines, fast, parsed_by, kept)
            if reused:
                report.reused += (resource.name,)
            report.merge(findings)
            if typed is not None:
                tables[resource.name] = typed
                report.tables[resource.name] = typed.row_count
                waiting = False
                for key in typed.spec.foreign_keys:
                    if key.resource in pending and key.resource != resource.name:
                        deferred.append((resource.name, key))
                        waiting = True
                    elif key_engine is not None:
                        report.merge(_foreign_key(ctx, typed, key, key_engine, kept))
                for rule in rules.table_rules(resource.name, spec):
                    if pending & set(rule.needs):
                        deferred.append((resource.name, rule))
                        waiting = True
                    else:
                        report.merge(_table_rule(ctx, rule, typed, kept))
                if not waiting:
                    _let_go(typed, referenced, keep_lines="frictionless" in engines)
                    ctx.forget(resource.name)
        bytes_done += sizes.get(resource.name, 0)
        if progress is not None:
            progress(
                Progress(
                    table=resource.name,
                    rows=report.tables.get(resource.name, 0),
                    tables_done=number,
                    tables_total=len(package.resources),
                    bytes_done=bytes_done,
                    bytes_total=sum(sizes.values()),
                )
            )
    for name, waiting_check in deferred:
        typed = tables[name]
        if isinstance(waiting_check, rules.Rule):
            report.merge(_table_rule(ctx, waiting_check, typed, kept))
        elif key_engine is not None:
            report.merge(_foreign_key(ctx, typed, waiting_check, key_engine, kept))
    for name in {name for name, _ in deferred}:
        _let_go(tables[name], referenced, keep_lines="frictionless" in engines)
        ctx.forget(name)
    if "frictionless" in engines:
        report.merge(frictionless_check.check(package, tables))
    report.merge(rules.run_package(ctx))
    if kept is not None:
        kept.save_results()
    _drop_consequences(report, tables)
    _explain_dates(report, specs)
    report.sort()
    return report


def _read_and_check(
    resource, spec: TableSpec, limits: Limits, engines, fast: bool, parsed_by: str, kept: table_cache.TableCache | None
) -> tuple[TypedTable | None, list[Finding], bool]:
    """A table read and checked by the table engines, and whether it was taken from the table cache
    (where its inputs are unchanged); else done now, and kept there when there is a cache."""

    def afresh() -> TypedTable | None:  # should a kept table's entry break before its cells are read
        return structure.read(resource, spec, limits, fast=fast, parsed_by=parsed_by)[0]

    restored = kept.restore(resource, spec, afresh) if kept is not None else None
    if restored is not None:
        return (*restored, True)
    typed, findings = structure.read(resource, spec, limits, fast=fast, parsed_by=parsed_by)
    if typed is None:
        return None, findings, False
    if "pandera" in engines:
        findings = findings + pandera_check.check(typed)
    if "vectorised" in engines:
        findings = findings + columns.check(typed)
    if kept is not None:
        kept.keep(resource, typed, findings)
    return typed, findings, False


_WRITTEN_DATE = re.compile(r"^\s*([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})\s*$")


def _iso_date_advice(value: str) -> str | None:
    """How to write a day/month/year (or month/day/year) date the schema's way, or None if it is not one."""
    found = _WRITTEN_DATE.match(value)
    if found is None:
        return None
    first, second, year = int(found.group(1)), int(found.group(2)), found.group(3)
    day_first = f"{year}-{second:02d}-{first:02d}"
    month_first = f"{year}-{first:02d}-{second:02d}"
    if 12 < first <= 31 and second <= 12:
        return f"write it year-month-day: {day_first}"
    if 12 < second <= 31 and first <= 12:
        return f"write it year-month-day: {month_first}"
    if first <= 12 and second <= 12:
        return f"write it year-month-day: {day_first} if the day comes first, {month_first} if the month does"
    return None


def _explain_dates(report: Report, specs: dict[str, TableSpec]) -> None:
    """A date written 18/05/2017 in a date field gets the form to write, not only the pattern it breaks."""
    import dataclasses

    for position, finding in enumerate(report.findings):
        if finding.code not in ("constraint-error", "type-error") or finding.value is None:
            continue
        spec = specs.get(finding.table or "")
        field_spec = next((f for f in spec.fields if f.name == finding.column), None) if spec else None
        if field_spec is None or not (field_spec.type == "date" or field_spec.precision_field):
            continue
        advice = _iso_date_advice(str(finding.value))
        if advice is not None:
            report.findings[position] = dataclasses.replace(
                finding,
                message=f"{finding.value!r} is not a date of the schema's form: {advice}",
                expected=" or ".join(re.findall(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", advice)),
            )


def _referenced_fields(specs: dict[str, TableSpec]) -> dict[str, set[str]]:
    """Per table, the columns kept after it is checked: what other tables' foreign keys and rules look up."""
    declared = rules.kept_columns()
    kept: dict[str, set[str]] = {name: set(declared.get(name, ())) for name in specs}
    for name, spec in specs.items():
        for key in spec.foreign_keys:
            if key.resource != name:  # a table's references to itself are checked while it is whole
                kept.setdefault(key.resource, set()).update(key.reference_fields)
    return kept


def _let_go(typed: TypedTable, referenced: dict[str, set[str]], keep_lines: bool) -> None:
    """Keep only what later checks read, so that memory holds one whole table at a time.

    Keys other tables reference stay as they are; columns rules of later tables look up
    stay dictionary-encoded. Every record's line stays only for frictionless (``keep_lines``),
    which reads the tables after all the others and names records by number. A kept table whose
    cells were not read is let go of once they are, if ever.
    """
    if isinstance(typed, table_cache.DeferredTable) and not typed.loaded:
        typed.when_loaded(lambda whole: _let_go(whole, referenced, keep_lines))
        return
    if not keep_lines:
        typed.record_lines = []
    keep = [c for c in typed.frame.columns if c in referenced.get(typed.spec.name, ())]
    frame = typed.frame[keep]
    joins = set(typed.spec.primary_key)
    for column in rules.kept_columns().get(typed.spec.name, ()):
        if column in frame.columns and column not in joins and frame[column].dtype == "string" and len(frame) > 1000:
            frame[column] = frame[column].astype("category")  # looked up, never joined on: few distinct values
    typed.frame = frame
    typed.text = None
    typed.bad_cells = {}


def _baseline(root: Path, against, report: Report, require_history: bool = False):
    """The snapshot of the release to compare with, or None."""
    from ..history import HistoryMissing, VersionError, last_release_snapshot, read_version

    if against is False:
        return None
    try:
        if against is None:
            return last_release_snapshot(root)
        return read_version(against, root=root)
    except HistoryMissing as error:
        code = "release-history-required" if require_history else "release-history-missing"
        report.merge(
            [
                Finding(
                    code,
                    f"the check that no released row vanished without a retraction was skipped: {error}",
                    file="CHANGELOG.md",
                    found_by=(ENGINE,),
                )
            ]
        )
        return None
    except (VersionError, OSError, ValueError) as error:
        if against is not None:
            report.merge(
                [Finding("package-error", f"cannot read the release to compare with: {error}", file=str(against))]
            )
        return None


def _drop_consequences(report: Report, tables: dict[str, TypedTable]) -> None:
    """A cell absent from the file (missing cell or column) is reported once, by the structure layer."""
    absent = {(name, line, column) for name, typed in tables.items() for line, column in typed.padded_cells}
    report.findings = [
        f
        for f in report.findings
        if not (f.code in ("constraint-error", "type-error") and (f.table, f.line, f.column) in absent)
    ]


def _table_rule(
    ctx: Context, rule: rules.Rule, typed: TypedTable, kept: table_cache.TableCache | None
) -> list[Finding]:
    """A table rule's findings: kept from an earlier run where everything it reads is unchanged, with
    the state it fills (what it gathers for the package rules, the broken spans), added as the rule
    would add it."""
    key = None
    if kept is not None and rule.keepable:
        state = {name: kept.fingerprint(name, getattr(ctx, name)) for name in rule.reads}
        if all(digest is not None for digest in state.values()):
            key = kept.results_key("rule", typed.spec.name, list(rule.needs), state, rule.name)  # type: ignore[arg-type]
        if key is not None and rule.writes:
            findings = _state_filling_rule(ctx, rule, typed, kept, key)
            kept.state_filled(rule.writes)
            return findings
        found = kept.results(key) if key is not None else None
        if found is not None:
            return found
    findings = rules.run_table(ctx, rule, typed)
    if kept is not None:
        kept.state_filled(rule.writes)
        if key is not None:
            kept.record(key, findings)
    return findings


def _state_filling_rule(
    ctx: Context, rule: rules.Rule, typed: TypedTable, kept: table_cache.TableCache, key: tuple[str, bool]
) -> list[Finding]:
    """A rule that fills state, run against empty state so that what it adds is known apart (and
    kept), or taken with its findings from an earlier run."""
    name = f"{rule.name} of {typed.spec.name}"
    found = kept.gathered(name, key)
    if found is not None:
        try:
            _add_state(ctx, rule, found[1])
            return found[0]
        except ValueError:  # not what the rule adds: the entry is a miss, the rule runs (nothing was added)
            pass
    gathered, broken_spans = ctx.gathered, ctx.broken_spans
    ctx.gathered, ctx.broken_spans = {}, set()
    try:
        findings = rules.run_table(ctx, rule, typed)
    finally:
        added = {state: getattr(ctx, state) for state in rule.writes}
        ctx.gathered, ctx.broken_spans = gathered, broken_spans
    kept.keep_gathered(name, key, findings, added)
    _add_state(ctx, rule, added)  # raises for a rule that adds what it does not declare
    return findings


def _add_state(ctx: Context, rule: rules.Rule, added: dict) -> None:
    """Add what ``rule`` filled of one table to the run's state; ValueError, before anything is
    added, for anything but what it declares (``writes``; in ``gathered``, ``keeps``)."""
    if set(added) != set(rule.writes) or not isinstance(added.get("broken_spans", set()), set):
        raise ValueError(f"{rule.name} fills {sorted(rule.writes)}, not {sorted(added)}")
    if "gathered" in added:
        if not isinstance(added["gathered"], dict):
            raise ValueError(f"{rule.name} gathers a dict")
        kept_state.merge(ctx.gathered, added["gathered"], rule.keeps)
    ctx.broken_spans |= added.get("broken_spans", set())


def _foreign_key(
    ctx: Context, typed: TypedTable, key, engine: str, kept: table_cache.TableCache | None = None
) -> list[Finding]:
    """One foreign key's findings: kept from an earlier run where both tables are unchanged, else checked."""
    results_key = None
    if kept is not None:
        detail = [list(key.fields), key.resource, list(key.reference_fields), engine]
        results_key = kept.results_key("foreign key", typed.spec.name, [key.resource], {}, detail)
        found = kept.results(results_key) if results_key is not None else None
        if found is not None:
            return found
    findings = _check_foreign_key(ctx, typed, key, engine)
    if kept is not None and results_key is not None:
        kept.record(results_key, findings)
    return findings


def _check_foreign_key(ctx: Context, typed: TypedTable, key, engine: str) -> list[Finding]:
    """One foreign key checked on whole columns: one pyarrow hash lookup for all rows."""
    frame = typed.frame
    target = ctx.tables.get(key.resource)
    if (
        target is None
        or any(f not in frame.columns for f in key.fields)
        or any(f not in target.frame.columns for f in key.reference_fields)
    ):
        return []
    if len(key.fields) == 1:
        present = frame[key.fields[0]].notna().to_numpy(bool)
        positions = ctx.positions(typed, key.fields[0], key.resource, key.reference_fields[0])
        missing = present & positions.is_null().to_numpy(zero_copy_only=False)
    else:
        own = joined_cells(frame, key.fields, "\x1f")
        present = own.notna().to_numpy(bool)
        known = joined_cells(target.frame, key.reference_fields, "\x1f").dropna()
        missing = present & ~isin(own.fillna(""), known)
    findings = []
    for line in frame.index[missing]:
        values = [str(frame.at[line, f]) for f in key.fields]
        findings.append(
            Finding(
                "foreign-key",
                f"{', '.join(values)} not found in {key.resource}.{', '.join(key.reference_fields)}",
                table=typed.spec.name,
                file=typed.relpath,
                line=int(line),
                column=key.fields[0],
                value=values[0],
                expected=f"an existing {key.resource}.{key.reference_fields[0]}",
                found_by=(engine,),
            )
        )
    return findings


__all__ = [
    "validate",
    "reads_with_arrow",
    "DEFAULT_ENGINES",
    "CROSS_CHECK_ENGINES",
    "Progress",
    "Report",
    "Finding",
    "Limits",
    "ENGINES",
]
