"""Layer: the descriptor and every schema, against the profiles and the project's conventions."""

from __future__ import annotations

import re
from collections.abc import Callable

from .. import profiles
from ..boundary import DEFAULT_LIMITS, Refused, package_text, without_remote_references
from ..package import DESCRIPTOR, Package
from ..report import Finding
from ..schema import SUPPORTED_TYPES, FieldSpec, SchemaError

COVERAGE_ROLES = ("cites", "names", "excludes")
# Support properties whose fields must reference spans, or reference some table.
SPAN_PROPERTIES = ("mentionedIn", "asWrittenIn", "dateSpanField")
REFERENCE_PROPERTIES = ("inheritsFrom", "admitsTypeOf")

ENGINE = "lint"
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
CONSTRAINT_KEYS = ("required", "unique", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength")
# Data Package v2 constructs that frictionless 5 does not enforce: a schema using them
# would promise checks that never run.
UNENFORCED_SCHEMA_KEYS = ("uniqueKeys",)
UNENFORCED_FIELD_KEYS = ("categories", "categoriesOrdered")


def check(package: Package) -> list[Finding]:
    findings = _descriptor(package)
    declared = {
        entry["name"]
        for entry in package.descriptor.get("resources") or []
        if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    }
    for resource in package.resources:
        findings.extend(_schema(resource, declared, package))
    return findings


def _descriptor(package: Package) -> list[Finding]:
    findings = []
    descriptor = package.descriptor
    version = descriptor.get("version")
    if not isinstance(version, str) or not SEMVER.fullmatch(version):
        findings.append(
            Finding(
                "package-error",
                f"version {version!r} is not a semantic version (MAJOR.MINOR.PATCH)",
                file=DESCRIPTOR,
                column="version",
                value=str(version),
                expected="MAJOR.MINOR.PATCH",
                found_by=(ENGINE,),
            )
        )
    for key in ("name", "title", "description", "licenses"):
        if not descriptor.get(key):
            code = "missing-description" if key == "description" else "package-error"
            findings.append(
                Finding(code, f"the descriptor has no {key}", file=DESCRIPTOR, column=key, found_by=(ENGINE,))
            )
    settings = descriptor.get("uslatam", {})
    if not isinstance(settings, dict) or not isinstance(settings.get("coverage", False), bool):
        findings.append(
            Finding(
                "package-error",
                f"uslatam must be an object whose coverage is true or false, not {settings!r}",
                file=DESCRIPTOR,
                column="uslatam",
                expected='{"coverage": true}',
                found_by=(ENGINE,),
            )
        )
    by_name = {r.name: r for r in package.resources}
    readable = []  # the resources package.load could read; the others have their own finding
    for entry in descriptor.get("resources") or []:
        if isinstance(entry, dict) and entry.get("name") in by_name:
            readable.append(entry)
            if not entry.get("description"):
                findings.append(
                    Finding(
                        "missing-description",
                        f"resource {entry['name']!r} has no description",
                        table=entry["name"],
                        file=DESCRIPTOR,
                        found_by=(ENGINE,),
                    )
                )
            if not SNAKE_CASE.fullmatch(entry["name"]):
                findings.append(
                    Finding(
                        "non-snake-case-name",
                        f"resource name {entry['name']!r} is not snake_case",
                        table=entry["name"],
                        file=DESCRIPTOR,
                        value=entry["name"],
                        found_by=(ENGINE,),
                    )
                )
    if readable:
        safe = without_remote_references(descriptor)  # reported by package.load, never fetched
        safe["resources"] = without_remote_references(readable)
        for error in profiles.errors(safe, "datapackage.json"):
            code, table = "package-error", None
            if len(error.path) > 1 and error.path[0] == "resources" and isinstance(error.path[1], int):
                code, table = "resource-error", readable[error.path[1]]["name"]
            findings.append(
                Finding(
                    code,
                    f"{profiles.where(error.path)}: {error.message}",
                    table=table,
                    file=DESCRIPTOR,
                    found_by=(ENGINE,),
                )
            )
    return findings


def _schema(resource, resources: set[str], package: Package) -> list[Finding]:
    schema = resource.schema
    file = resource.schema_path or DESCRIPTOR
    text = _schema_text(package, resource.schema_path)
    findings: list[Finding] = []

    def add(code: str, message: str, column: str | None = None, value=None, expected=None) -> None:
        findings.append(
            Finding(
                code,
                message,
                table=resource.name,
                file=file,
                line=_line_of_field(text, column),
                column=column,
                value=None if value is None else str(value),
                expected=expected,
                found_by=(ENGINE,),
            )
        )

    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        add("schema-error", "the schema has no list of fields")
        return findings
    for error in profiles.errors(without_remote_references(schema), "tableschema.json"):
        position = error.path[1] if len(error.path) > 1 and error.path[0] == "fields" else None
        field = fields[position] if isinstance(position, int) and position < len(fields) else None
        column = field.get("name") if isinstance(field, dict) and isinstance(field.get("name"), str) else None
        add("schema-error", f"{profiles.where(error.path)}: {error.message}", column)
    names = []
    for position, field in enumerate(fields, 1):
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            add("schema-error", f"field {position} has no name")
            continue
        name = field["name"]
        names.append(name)
        if field.get("type", "string") not in SUPPORTED_TYPES:
            add(
                "schema-error",
                f"field {name!r} has type {field.get('type')!r}; supported: {', '.join(SUPPORTED_TYPES)}",
                name,
                field.get("type"),
                ", ".join(SUPPORTED_TYPES),
            )
        if not SNAKE_CASE.fullmatch(name):
            add("non-snake-case-name", f"field name {name!r} is not snake_case", name, name)
        if not field.get("description"):
            add("missing-description", f"field {name!r} has no description", name)
        if "example" not in field:
            add("missing-example", f"field {name!r} has no example", name)
        for key in CONSTRAINT_KEYS:
            if key in field:
                add(
                    "misplaced-constraint",
                    f"field {name!r} has {key!r} outside its constraints",
                    name,
                    key,
                    f"constraints.{key}",
                )
        for key in UNENFORCED_FIELD_KEYS:
            if key in field:
                add(
                    "misplaced-constraint",
                    f"field {name!r} uses {key!r}, which the validators ignore",
                    name,
                    key,
                    "constraints.enum",
                )
        if "primaryKey" in field:
            add("field-primary-key", f"field {name!r} declares primaryKey", name)
    _support_properties(resource, fields, names, package, add)
    for key in UNENFORCED_SCHEMA_KEYS:
        if key in schema:
            add("misplaced-constraint", f"the schema uses {key!r}, which the validators ignore", None, key)
    primary_key = schema.get("primaryKey")
    if not primary_key:
        add("key-field-missing", "the schema has no primaryKey")
    for key_field in [primary_key] if isinstance(primary_key, str) else primary_key or []:
        if key_field not in names:
            add("key-field-missing", f"primaryKey names {key_field!r}, which is not a field", None, key_field)
    for key in schema.get("foreignKeys") or []:
        own = key.get("fields")
        own = [own] if isinstance(own, str) else own or []
        reference = key.get("reference") or {}
        target = reference.get("resource") or resource.name
        theirs = reference.get("fields")
        theirs = [theirs] if isinstance(theirs, str) else theirs or []
        for key_field in own:
            if key_field not in names:
                add("key-field-missing", f"a foreign key names {key_field!r}, which is not a field", None, key_field)
        if target not in resources:
            add(
                "key-field-missing",
                f"a foreign key references resource {target!r}, which does not exist",
                own[0] if own else None,
                target,
            )
            continue
        target_resource = package.resource(target)
        if target_resource is None:
            continue  # declared but unreadable: its own finding says why
        target_names = [f.get("name") for f in target_resource.schema.get("fields", []) if isinstance(f, dict)]
        for key_field in theirs:
            if key_field not in target_names:
                add(
                    "key-field-missing",
                    f"a foreign key references {target}.{key_field}, which is not a field",
                    own[0] if own else None,
                    key_field,
                )
    return findings


def _support_properties(resource, fields: list, names: list[str], package: Package, add: Callable[..., None]) -> None:
    """The support properties name fields of the table, of the right kind; the tables they need exist."""
    schema = resource.schema
    references: dict[str, str] = {}
    for key in schema.get("foreignKeys") or []:
        own = key.get("fields")
        if isinstance(own, list) and len(own) == 1:
            own = own[0]
        if isinstance(own, str) and isinstance(key.get("reference"), dict):
            references[own] = key["reference"].get("resource") or resource.name
    if schema.get("coverage", "cites") not in COVERAGE_ROLES:
        add("schema-error", f"coverage is {schema.get('coverage')!r}", None, schema.get("coverage"), COVERAGE_ROLES)
    if "mentions" in schema and not isinstance(schema["mentions"], bool):
        add("schema-error", "mentions must be true or false", None, schema["mentions"], "true")
    mentions_tables = [r.name for r in package.resources if r.schema.get("mentions") is True]
    for field in fields:
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            continue
        name = field["name"]
        try:
            named = FieldSpec.from_descriptor(field).fields_named()
        except SchemaError as error:
            add("schema-error", f"field {name!r}: {error}", name)
            continue
        except (KeyError, TypeError, ValueError):
            continue  # reported as a field without a name or type above
        for key, targets in named.items():
            for target in targets:
                if target not in names:
                    add("schema-error", f"field {name!r} has {key} {target!r}, which is not a field", name, target)
                elif key in SPAN_PROPERTIES and references.get(target) != "spans":
                    add("schema-error", f"field {name!r} has {key} {target!r}, which is not a span reference", name)
                elif key in REFERENCE_PROPERTIES and target not in references:
                    add("schema-error", f"field {name!r} has {key} {target!r}, which is no foreign key", name, target)
        if "mentionedIn" in named and not mentions_tables:
            add("schema-error", f'field {name!r} has mentionedIn, but no schema declares "mentions": true', name)


def _line_of_field(text: str, name: str | None) -> int | None:
    if not name or not text:
        return None
    needle = f'"name": "{name}"'
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at != -1 else None


def _schema_text(package: Package, relpath: str | None) -> str:
    """The schema file's text, for line numbers only (package.load already parsed it)."""
    if relpath is None:
        return ""
    try:
        return package_text(package.root, relpath, what="a schema", limit=DEFAULT_LIMITS.max_descriptor_bytes)
    except Refused:
        return ""
