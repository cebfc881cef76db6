"""``uslatam.validate(path) -> Report``: every layer runs, and all findings are reported together.

Layers, in order: descriptor and schema lint; structure (strict CSV reading,
header, rows, bytes and hash); frictionless through the descriptor; columns parsed
vectorised and checked by the pandera schema derived from ``schemas/``; the named
rules. A finding several layers make is reported once, naming each layer.
"""

from __future__ import annotations

from pathlib import Path

from ..package import DEFAULT_LIMITS, Limits, PackageError, load
from ..report import Finding, Report
from ..schema import SchemaError, TableSpec, TypedTable
from ..transaction import interrupted
from . import frictionless_check, lint, pandera_check, rules, structure

ENGINES = ("frictionless", "pandera")


def validate(
    path: str | Path = ".",
    *,
    limits: Limits = DEFAULT_LIMITS,
    engines: tuple[str, ...] = ENGINES,
    against: str | Path | bool | None = None,
) -> Report:
    """Validate the data package at ``path`` (a folder or its ``datapackage.json``).

    ``against`` is the release that no row may vanish from without a retraction: a
    folder or git revision; None finds the last release in git (if any); False skips it.
    Never prints and never raises for bad data: problems are findings in the report.
    """
    report = Report(package=str(path))
    try:
        package, findings = load(path, limits=limits)
    except PackageError as error:
        report.fatal = True
        report.merge(error.findings)
        return report
    report.merge(findings)
    if interrupted(package.root):
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

    tables: dict[str, TypedTable] = {}
    specs: dict[str, TableSpec] = {}
    for resource in package.resources:
        try:
            spec = specs[resource.name] = TableSpec.from_schema(resource.name, resource.schema)
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
            continue
        raw, findings = structure.check(resource, spec, limits)
        report.merge(findings)
        if not raw.readable:
            continue
        typed, findings = pandera_check.typed_table(spec, raw, resource.path)
        report.merge(findings)
        tables[resource.name] = typed
        report.tables[resource.name] = len(typed.frame)

    if "pandera" in engines:
        for typed in tables.values():
            report.merge(pandera_check.check(typed))
            report.merge(_foreign_keys(typed, tables))
    if "frictionless" in engines:
        report.merge(frictionless_check.check(package, tables))
    report.merge(rules.run(package, tables, specs, baseline=_baseline(package.root, against, report)))
    _drop_consequences(report, tables)
    report.sort()
    return report


def _baseline(root: Path, against, report: Report):
    """The snapshot of the release to compare with, or None."""
    from ..diff import VersionError, read_version

    if against is False:
        return None
    try:
        if against is None:
            from ..release import last_release

            found = last_release(root)
            if found is None:
                return None
            snapshot = read_version(found[1], root=root)
            snapshot.label = found[0]
            return snapshot
        return read_version(against, root=root)
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


def _foreign_keys(typed: TypedTable, tables: dict[str, TypedTable]) -> list[Finding]:
    """Foreign keys checked on whole columns (pandera has no cross-table check)."""
    findings = []
    frame = typed.frame
    for key in typed.spec.foreign_keys:
        target = tables.get(key.resource)
        if (
            target is None
            or any(f not in frame.columns for f in key.fields)
            or any(f not in target.frame.columns for f in key.reference_fields)
        ):
            continue
        own = frame[list(key.fields)]
        present = own.notna().all(axis=1)
        if len(key.fields) == 1:
            known = set(target.frame[key.reference_fields[0]].dropna())
            missing = present & ~own.iloc[:, 0].isin(known)
        else:
            known = set(target.frame[list(key.reference_fields)].dropna().itertuples(index=False, name=None))
            missing = present & ~own.apply(tuple, axis=1).isin(known)
        for line in frame.index[missing.to_numpy()]:
            values = [str(v) for v in own.loc[line]]
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
                    found_by=("pandera",),
                )
            )
    return findings


__all__ = ["validate", "Report", "Finding", "Limits", "ENGINES"]
