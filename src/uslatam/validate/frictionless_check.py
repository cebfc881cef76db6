"""Layer: frictionless validates the package through its descriptor (types, constraints, keys)."""

from __future__ import annotations

import copy
import re

from ..boundary import offline, without_remote_references
from ..codes import CATALOGUE
from ..package import Package
from ..patterns import linear_patterns
from ..report import Finding
from ..schema import TypedTable

ENGINE = "frictionless"


def check(package: Package, tables: dict[str, TypedTable]) -> list[Finding]:
    """Run frictionless on the readable tables only, with schemas already loaded.

    Tables that could not be parsed are left out, and so are foreign keys into
    them, so that one broken file does not hide the findings of the others.
    """
    from frictionless import FrictionlessException, system
    from frictionless import Package as FrictionlessPackage

    descriptor = without_remote_references(copy.deepcopy(package.descriptor))  # reported by package.load
    readable = {name for name in tables}
    resources = []
    for entry in descriptor.get("resources", []):
        name = entry.get("name")
        if name not in readable:
            continue
        resource = package.resource(name)
        if resource is None:  # pragma: no cover - every readable table has a resource
            continue
        schema = without_remote_references(copy.deepcopy(resource.schema))
        schema["foreignKeys"] = [key for key in schema.get("foreignKeys", []) if _usable(key, name, schema, tables)]
        entry["schema"] = schema
        # The structure layer measures bytes and hash from the same bytes, naming both counts at once:
        # frictionless checking them too would report one hand edit twice.
        entry.pop("bytes", None)
        entry.pop("hash", None)
        resources.append(entry)
    if not resources:
        return []
    descriptor["resources"] = resources
    findings: list[Finding] = []
    try:
        with system.use_context(trusted=False), offline(), linear_patterns():
            frictionless_package = FrictionlessPackage(descriptor, basepath=str(package.root))
            report = frictionless_package.validate(limit_errors=10**9)
    except FrictionlessException as failure:
        return [
            Finding(
                "package-error",
                f"frictionless could not validate the package: {failure.error.message}",
                file="datapackage.json",
                found_by=(ENGINE,),
            )
        ]
    for task in report.tasks:
        table = tables.get(task.name)
        for error in task.errors:
            finding = _finding(error, task.name, table)
            if table is not None and finding.line in table.blank_lines and finding.code != "blank-row":
                continue  # frictionless also counts a blank row as a key violation: one defect, one finding
            findings.append(finding)
    for package_error in report.errors:
        findings.append(
            Finding(_code(package_error.type), package_error.message, file="datapackage.json", found_by=(ENGINE,))
        )
    return findings


def _usable(key: dict, name: str, schema: dict, tables: dict[str, TypedTable]) -> bool:
    """A foreign key frictionless can check: its fields exist on both sides (lint reports the rest)."""
    reference = key.get("reference") or {}
    target = tables.get(reference.get("resource") or name)
    if target is None:
        return False
    own = key.get("fields")
    theirs = reference.get("fields")
    own = [own] if isinstance(own, str) else own or []
    theirs = [theirs] if isinstance(theirs, str) else theirs or []
    own_names = {f.get("name") for f in schema.get("fields", [])}
    return set(own) <= own_names and set(theirs) <= set(target.spec.field_names)


_ROW_POSITION = re.compile(r'(row at position) "?([0-9]+)"?', re.IGNORECASE)


def _as_line(match: re.Match, table: TypedTable | None) -> str:
    """frictionless counts records; people and editors count physical lines."""
    record = int(match.group(2)) - 2
    if table is None or not 0 <= record < len(table.record_lines):
        return match.group(0)
    word = "Row" if match.group(1)[0] == "R" else "row"
    return f"{word} at line {table.record_lines[record]}"


def _code(error_type: str) -> str:
    return error_type if error_type in CATALOGUE else "package-error"


def _finding(error, table_name: str, table: TypedTable | None) -> Finding:
    code = _code(error.type)
    relpath = table.relpath if table else None
    line = None
    row_number = getattr(error, "row_number", None)
    if row_number is not None and table is not None:
        record = row_number - 2
        lines = table.record_lines
        line = int(lines[record]) if 0 <= record < len(lines) else None
    elif code in ("blank-label", "duplicate-label", "incorrect-label", "missing-label", "extra-label"):
        line = 1
    column = getattr(error, "field_name", None) or None
    if code == "foreign-key":
        column = error.field_names[0] if error.field_names else None
    if code == "extra-label":
        column = getattr(error, "label", None) or column
    if code in ("hash-count", "byte-count", "extra-cell", "blank-row"):
        column = None
    value = getattr(error, "cell", None)
    if code == "foreign-key" and error.field_cells:
        value = error.field_cells[0]
    message = _ROW_POSITION.sub(lambda m: _as_line(m, table), error.message)
    return Finding(
        code,
        message,
        table=table_name,
        file=relpath,
        line=line,
        column=column,
        value=value if value not in (None, "") else None,
        found_by=(ENGINE,),
    )
