"""Differences between two versions of the package: schema changes and rows aligned by key.

A version is a folder or a git revision. Rows are aligned by primary key (daff,
Dolt); numbers compare by value, so canonical formatting never shows as a change.
Each change carries the semantic-version bump it requires, after the Frictionless
data-versioning recipe:

- MAJOR: a table removed; a field added, removed, renamed or retyped; a constraint
  tightened; a primary key changed (readers by position or by rule break);
- MINOR: rows or tables added; a constraint loosened;
- PATCH: values corrected, rows retracted with a retraction record, descriptions and
  other metadata edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .history import Snapshot, read_version

MAJOR, MINOR, PATCH = "major", "minor", "patch"
LEVELS = (PATCH, MINOR, MAJOR)
RETRACTIONS = "retractions"
IGNORED_DESCRIPTOR_KEYS = {"version", "created", "resources"}
IGNORED_RESOURCE_KEYS = {"bytes", "hash", "schema", "path"}


@dataclass
class SchemaChange:
    table: str
    kind: str
    field: str | None
    detail: str
    bump: str


@dataclass
class RowChange:
    key: str
    cells: dict[str, tuple[str, str]]  # column -> (old, new)


@dataclass
class TableDiff:
    name: str
    key_columns: list[str] = field(default_factory=list)
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[RowChange] = field(default_factory=list)
    retracted: list[str] = field(default_factory=list)  # removed keys that have a retraction record

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass
class Diff:
    old: str
    new: str
    schema: list[SchemaChange] = field(default_factory=list)
    tables: dict[str, TableDiff] = field(default_factory=dict)
    metadata: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.schema and not self.metadata and all(t.empty for t in self.tables.values())

    def reasons(self) -> dict[str, list[str]]:
        """Every change, grouped by the bump it requires."""
        reasons: dict[str, list[str]] = {level: [] for level in LEVELS}
        for change in self.schema:
            reasons[change.bump].append(f"{change.table}: {change.detail}")
        for table in self.tables.values():
            if table.added and table.name != RETRACTIONS:  # a retraction record is part of its (patch) correction
                reasons[MINOR].append(f"{table.name}: {len(table.added)} row(s) added")
            if table.changed:
                reasons[PATCH].append(f"{table.name}: {len(table.changed)} row(s) changed")
            if table.retracted:
                reasons[PATCH].append(f"{table.name}: {len(table.retracted)} row(s) retracted")
        reasons[PATCH].extend(self.metadata)
        return reasons

    def bump(self) -> str | None:
        """The smallest bump this diff requires, or None when nothing changed."""
        reasons = self.reasons()
        for level in reversed(LEVELS):
            if reasons[level]:
                return level
        return None

    def unretracted(self) -> dict[str, list[str]]:
        """Removed rows without a retraction record, by table."""
        result = {}
        for table in self.tables.values():
            keys = [row_key(table.key_columns, row) for row in table.removed]
            missing = [k for k in keys if k not in table.retracted]
            if missing:
                result[table.name] = missing
        return result

    def to_dict(self) -> dict:
        return {
            "old": self.old,
            "new": self.new,
            "empty": self.empty,
            "bump": self.bump(),
            "schema": [change.__dict__ for change in self.schema],
            "metadata": list(self.metadata),
            "tables": {
                name: {
                    "added": table.added,
                    "removed": table.removed,
                    "retracted": table.retracted,
                    "changed": [
                        {"key": c.key, "cells": {k: list(v) for k, v in c.cells.items()}} for c in table.changed
                    ],
                }
                for name, table in self.tables.items()
                if not table.empty
            },
        }


def row_key(columns: list[str], row: dict) -> str:
    """A row's primary key as one string ('|' between the parts of a composite key)."""
    return "|".join(row.get(column, "") for column in columns)


def _canonical(value: str, type_: str) -> object:
    if value == "" or type_ not in ("integer", "number"):
        return value
    try:
        return float(value)
    except ValueError:
        return value


def compare(old: Snapshot, new: Snapshot) -> Diff:
    """The schema, metadata and row differences from ``old`` to ``new``."""
    diff = Diff(old=old.label, new=new.label)
    for key in sorted(set(old.descriptor) | set(new.descriptor)):
        if key in IGNORED_DESCRIPTOR_KEYS:
            continue
        if old.descriptor.get(key) != new.descriptor.get(key):
            diff.metadata.append(f"descriptor: {key} edited")
    old_resources = {r["name"]: r for r in old.descriptor.get("resources", [])}
    new_resources = {r["name"]: r for r in new.descriptor.get("resources", [])}
    for name in sorted(old_resources.keys() - new_resources.keys()):
        diff.schema.append(SchemaChange(name, "table-removed", None, "table removed", MAJOR))
    for name in sorted(new_resources.keys() - old_resources.keys()):
        diff.schema.append(SchemaChange(name, "table-added", None, "table added", MINOR))
    for name in sorted(old_resources.keys() & new_resources.keys()):
        for key in sorted(set(old_resources[name]) | set(new_resources[name])):
            if key not in IGNORED_RESOURCE_KEYS and old_resources[name].get(key) != new_resources[name].get(key):
                diff.metadata.append(f"{name}: resource {key} edited")
        diff.schema.extend(_schema_changes(name, old.schemas[name], new.schemas[name]))
    retractions = {(r.get("table_name"), r.get("row_id")) for r in new.tables.get(RETRACTIONS, [])}
    for name in list(new_resources):
        schema = new.schemas[name]
        columns = list(schema.get("primaryKey", []))
        types = {f["name"]: f.get("type", "string") for f in schema["fields"]}
        old_rows = {row_key(columns, r): r for r in old.tables.get(name, [])} if name in old_resources else {}
        new_rows = {row_key(columns, r): r for r in new.tables[name]}
        table = TableDiff(name, key_columns=columns)
        table.added = [new_rows[k] for k in new_rows if k not in old_rows]
        table.removed = [old_rows[k] for k in old_rows if k not in new_rows]
        table.retracted = [k for k in (row_key(columns, r) for r in table.removed) if (name, k) in retractions]
        for key in old_rows.keys() & new_rows.keys():
            before, after = old_rows[key], new_rows[key]
            cells = {
                column: (before.get(column, ""), after.get(column, ""))
                for column in after
                if column in before
                and _canonical(before[column], types.get(column, "string"))
                != _canonical(after[column], types.get(column, "string"))
            }
            if cells:
                table.changed.append(RowChange(key, cells))
        table.changed.sort(key=lambda c: c.key)
        diff.tables[name] = table
    return diff


def _constraint_change(name: str, old: dict, new: dict) -> list[tuple[str, str]]:
    """(kind, detail) for each constraint of a field that tightened or loosened."""
    changes = []
    oc, nc = old.get("constraints", {}), new.get("constraints", {})
    for flag in ("required", "unique"):
        if bool(oc.get(flag)) != bool(nc.get(flag)):
            changes.append(
                (
                    "constraint-tightened" if nc.get(flag) else "constraint-loosened",
                    f"{name}: {flag} {'added' if nc.get(flag) else 'removed'}",
                )
            )
    if oc.get("enum") != nc.get("enum"):
        before, after = set(oc.get("enum") or []), set(nc.get("enum") or [])
        if "enum" not in nc:
            changes.append(("constraint-loosened", f"{name}: enum removed"))
        elif "enum" not in oc or not before <= after:
            changes.append(
                ("constraint-tightened", f"{name}: enum now {sorted(after)} (removed {sorted(before - after)})")
            )
        elif before < after:
            changes.append(("constraint-loosened", f"{name}: enum adds {sorted(after - before)}"))
        else:
            changes.append(("constraint-loosened", f"{name}: enum reordered"))
    if oc.get("pattern") != nc.get("pattern"):
        kind = "constraint-loosened" if "pattern" not in nc else "constraint-tightened"
        changes.append((kind, f"{name}: pattern {oc.get('pattern')!r} -> {nc.get('pattern')!r}"))
    for bound, stricter in (
        ("minimum", lambda a, b: b > a),
        ("maximum", lambda a, b: b < a),
        ("minLength", lambda a, b: b > a),
        ("maxLength", lambda a, b: b < a),
    ):
        a, b = oc.get(bound), nc.get(bound)
        if a != b:
            tighter = b is not None and (a is None or stricter(a, b))
            changes.append(
                ("constraint-tightened" if tighter else "constraint-loosened", f"{name}: {bound} {a} -> {b}")
            )
    return changes


def _foreign_keys(schema: dict, table: str) -> list:
    """The foreign keys in one form: a key to its own table names it (v1 wrote "", v2 leaves it out)."""
    keys = []
    for key in schema.get("foreignKeys") or []:
        if isinstance(key, dict) and isinstance(key.get("reference"), dict):
            key = {**key, "reference": {**key["reference"], "resource": key["reference"].get("resource") or table}}
        keys.append(key)
    return keys


def _schema_changes(table: str, old: dict, new: dict) -> list[SchemaChange]:
    changes = []
    old_fields = {f["name"]: (i, f) for i, f in enumerate(old.get("fields", []))}
    new_fields = {f["name"]: (i, f) for i, f in enumerate(new.get("fields", []))}
    removed = [n for n in old_fields if n not in new_fields]
    added = [n for n in new_fields if n not in old_fields]
    for name in list(removed):
        position, field_ = old_fields[name]
        twin = next(
            (n for n in added if new_fields[n][0] == position and new_fields[n][1].get("type") == field_.get("type")),
            None,
        )
        if twin:
            changes.append(SchemaChange(table, "field-renamed", name, f"field {name} renamed to {twin}", MAJOR))
            removed.remove(name)
            added.remove(twin)
    for name in removed:
        changes.append(SchemaChange(table, "field-removed", name, f"field {name} removed", MAJOR))
    for name in added:
        changes.append(SchemaChange(table, "field-added", name, f"field {name} added", MAJOR))
    for name in old_fields.keys() & new_fields.keys():
        before, after = old_fields[name][1], new_fields[name][1]
        if before.get("type", "string") != after.get("type", "string") or before.get("format") != after.get("format"):
            changes.append(
                SchemaChange(
                    table,
                    "field-retyped",
                    name,
                    f"field {name} retyped {before.get('type')} -> {after.get('type')}",
                    MAJOR,
                )
            )
        for kind, detail in _constraint_change(name, before, after):
            changes.append(SchemaChange(table, kind, name, detail, MAJOR if kind == "constraint-tightened" else MINOR))
        for key in ("description", "example", "title"):
            if before.get(key) != after.get(key):
                changes.append(SchemaChange(table, "metadata", name, f"field {name}: {key} edited", PATCH))
    if [n for n in old_fields if n in new_fields] != [n for n in new_fields if n in old_fields]:
        changes.append(SchemaChange(table, "fields-reordered", None, "fields reordered", MAJOR))
    if old.get("primaryKey") != new.get("primaryKey"):
        changes.append(
            SchemaChange(
                table, "key-changed", None, f"primary key {old.get('primaryKey')} -> {new.get('primaryKey')}", MAJOR
            )
        )
    old_keys, new_keys = _foreign_keys(old, table), _foreign_keys(new, table)
    if old_keys != new_keys:
        fewer = len(new_keys) < len(old_keys)
        changes.append(
            SchemaChange(
                table,
                "constraint-loosened" if fewer else "constraint-tightened",
                None,
                "foreign keys changed",
                MINOR if fewer else MAJOR,
            )
        )
    return sorted(changes, key=lambda c: (c.kind, c.field or ""))


def diff(old: str | Path, new: str | Path, *, root: Path | None = None) -> Diff:
    """Compare two versions, each a folder or a git revision of the package at ``root``."""
    return compare(read_version(old, root=root), read_version(new, root=root))
