"""Reading a data package as untrusted input.

A package may be a downloaded copy, so nothing it names is opened before its path
is proven to stay inside the package folder, and no URL is ever fetched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from .boundary import (
    DEFAULT_LIMITS,
    UNREADABLE,
    Limits,
    UnsafeYaml,
    check_path,
    load_json,
    load_yaml,
    open_regular,
    regular_file_size,
    remote_references,
)
from .files import write_atomic
from .report import Finding

DESCRIPTOR = "datapackage.json"
SHA256 = "sha256:"  # the prefix of a descriptor's hash, as Data Package writes it
# Findings of load() after which a package must not be read further by a tool that writes or loads:
# a table left unread (see boundary.UNREADABLE), or keys that a JSON reader would silently drop.
BLOCKING = (*UNREADABLE, "duplicate-json-key")


class PackageError(Exception):
    """The package cannot be read at all; ``findings`` say why."""

    def __init__(self, findings: list[Finding]):
        super().__init__("; ".join(f.message for f in findings))
        self.findings = findings


@dataclass
class Resource:
    name: str
    path: str
    file: Path
    schema: dict
    schema_path: str | None
    declared_bytes: int | None
    declared_hash: str | None


@dataclass
class Package:
    root: Path
    descriptor: dict
    resources: list[Resource] = field(default_factory=list)

    def resource(self, name: str) -> Resource | None:
        return next((r for r in self.resources if r.name == name), None)

    @property
    def descriptor_file(self) -> Path:
        return self.root / DESCRIPTOR


def find_root(path: str | Path) -> Path:
    """The package folder for a folder or a path to its ``datapackage.json``."""
    candidate = Path(path)
    if candidate.name == DESCRIPTOR or candidate.is_file():
        return candidate.parent
    return candidate


def not_a_package(path: str | Path) -> str | None:
    """Why ``path`` (a folder or its ``datapackage.json``) names no package, or None when its descriptor is there."""
    candidate = Path(path)
    root = find_root(candidate)
    if (root / DESCRIPTOR).is_file():
        return None
    if candidate.is_file():
        return f"{candidate} is a file, not a data package: name the package's folder or its {DESCRIPTOR}"
    if not root.exists():
        return f"{root} does not exist"
    if not root.is_dir():
        return f"{root} is not a folder"
    return f"no {DESCRIPTOR} in {root}"


def load(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> tuple[Package, list[Finding]]:
    """Read the descriptor and every schema it names, checking every path before opening it.

    Raises :class:`PackageError` when the descriptor itself cannot be read; other
    problems come back as findings, with the resources that are safe to read.
    """
    root = find_root(path)
    descriptor_file = root / DESCRIPTOR
    if not descriptor_file.is_file():
        why = not_a_package(path) or f"no {DESCRIPTOR} in {root}"
        raise PackageError([Finding("missing-file", why, file=DESCRIPTOR, expected=f"a folder holding {DESCRIPTOR}")])
    problem = check_path(root, DESCRIPTOR, what="the descriptor")
    if problem:
        raise PackageError([problem])
    data, findings = load_json(descriptor_file, limits=limits, file=DESCRIPTOR)
    if not isinstance(data, dict):
        if data is not None:
            findings.append(Finding("package-error", f"{DESCRIPTOR} must hold a JSON object", file=DESCRIPTOR))
        raise PackageError(findings)
    findings += remote_references(data, file=DESCRIPTOR)
    package = Package(root=root, descriptor=data)
    resources = data.get("resources")
    if not isinstance(resources, list) or not resources:
        findings.append(Finding("package-error", "the descriptor has no list of resources", file=DESCRIPTOR))
        return package, findings
    if len(resources) > limits.max_resources:
        findings.append(
            Finding(
                "package-error",
                f"the descriptor lists {len(resources)} resources; the limit is {limits.max_resources}",
                file=DESCRIPTOR,
                value=str(len(resources)),
                expected=f"<= {limits.max_resources} resources",
            )
        )
        return package, findings
    for position, entry in enumerate(resources, 1):
        if not isinstance(entry, dict):
            findings.append(Finding("resource-error", f"resource {position} is not an object", file=DESCRIPTOR))
            continue
        name = entry["name"] if isinstance(entry.get("name"), str) else f"resource {position}"
        problem = _resource_problem(entry, name)
        if problem:
            findings.append(problem)
            continue
        path_problem = check_path(root, entry["path"], what=f"resource {name!r} path")
        schema_ref = entry.get("schema")
        schema_problem = (
            check_path(root, schema_ref, what=f"resource {name!r} schema") if isinstance(schema_ref, str) else None
        )
        for problem in (path_problem, schema_problem):
            if problem:
                findings.append(_with_table(problem, name))
        if path_problem or schema_problem:
            continue
        problem = _not_csv(entry, name)
        if problem:
            findings.append(problem)
            continue
        file = root / entry["path"]
        size_or_problem = regular_file_size(file, name=entry["path"], table=name, what="the data file")
        if isinstance(size_or_problem, Finding):
            findings.append(size_or_problem)
            continue
        size = size_or_problem
        if size > limits.max_file_bytes:
            findings.append(
                Finding(
                    "file-too-large",
                    f"{entry['path']} is {size} bytes; the limit is {limits.max_file_bytes}",
                    table=name,
                    file=entry["path"],
                    value=str(size),
                    expected=f"<= {limits.max_file_bytes} bytes",
                )
            )
            continue
        if isinstance(schema_ref, str):
            schema_size = regular_file_size(root / schema_ref, name=schema_ref, table=name, what="the schema file")
            if isinstance(schema_size, Finding):
                findings.append(schema_size)
                continue
            loaded, schema_findings = load_json(root / schema_ref, limits=limits, file=schema_ref)
            findings.extend(_with_table(f, name) for f in schema_findings)
            if not isinstance(loaded, dict):
                if loaded is not None:
                    findings.append(
                        Finding("schema-error", f"{schema_ref} must hold a JSON object", table=name, file=schema_ref)
                    )
                continue
            schema = loaded
        else:
            schema = cast(dict, schema_ref)  # a dict: _resource_problem refused anything else
        schema_file = schema_ref if isinstance(schema_ref, str) else DESCRIPTOR
        findings.extend(_with_table(f, str(name)) for f in remote_references(schema, file=schema_file))
        schema, refused = _without_unsafe_patterns(
            schema if isinstance(schema, dict) else {}, table=str(name), file=schema_file
        )
        findings.extend(refused)
        fields = schema.get("fields")
        if isinstance(fields, list) and len(fields) > limits.max_columns:
            findings.append(
                Finding(
                    "schema-error",
                    f"{schema_file} has {len(fields)} fields; the limit is {limits.max_columns}",
                    table=name,
                    file=schema_file,
                    value=str(len(fields)),
                    expected=f"<= {limits.max_columns} fields",
                )
            )
            continue
        package.resources.append(
            Resource(
                name=name,
                path=entry["path"],
                file=file,
                schema=schema,
                schema_path=schema_ref if isinstance(schema_ref, str) else None,
                declared_bytes=entry.get("bytes") if isinstance(entry.get("bytes"), int) else None,
                declared_hash=entry.get("hash") if isinstance(entry.get("hash"), str) else None,
            )
        )
    return package, findings


def load_readable(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Package:
    """The package for a command that reads every table: raises PackageError if any cannot be read safely."""
    package, findings = load(path, limits=limits)
    refused = blocking(findings)
    if refused:
        raise PackageError(refused)
    return package


def _without_unsafe_patterns(schema: dict, *, table: str, file: str) -> tuple[dict, list[Finding]]:
    """The schema with every pattern RE2 cannot run taken out, so that no engine ever matches it; and why."""
    from .patterns import refusal

    findings = []
    fields = schema.get("fields")
    for field_ in fields if isinstance(fields, list) else []:
        constraints = field_.get("constraints") if isinstance(field_, dict) else None
        if not isinstance(constraints, dict) or "pattern" not in constraints:
            continue
        reason = refusal(constraints["pattern"])
        if reason is not None:
            findings.append(
                Finding(
                    "unsafe-pattern",
                    f"the pattern of {field_.get('name')!r} cannot be matched in linear time: {reason}",
                    table=table,
                    file=file,
                    column=field_.get("name") if isinstance(field_.get("name"), str) else None,
                    value=str(constraints["pattern"]),
                    expected="an RE2 pattern (no backreferences or lookaround)",
                )
            )
            del constraints["pattern"]
    return schema, findings


def _resource_problem(entry: dict, name: str) -> Finding | None:
    if not isinstance(entry.get("name"), str):
        return Finding("resource-error", f"{name} has no name", file=DESCRIPTOR)
    if "data" in entry:
        return Finding(
            "resource-error",
            f"resource {name!r} inlines its data; store it as data/{name}.csv",
            table=name,
            file=DESCRIPTOR,
        )
    if not isinstance(entry.get("path"), str):
        return Finding(
            "resource-error",
            f"resource {name!r} needs one path (a string)",
            table=name,
            file=DESCRIPTOR,
            value=repr(entry.get("path")),
        )
    if not isinstance(entry.get("schema"), (str, dict)):
        return Finding("resource-error", f"resource {name!r} has no schema", table=name, file=DESCRIPTOR)
    return None


def _not_csv(entry: dict, name: str) -> Finding | None:
    if entry.get("format", "csv") != "csv" or not entry["path"].endswith(".csv"):
        return Finding(
            "resource-error", f"resource {name!r} is not a CSV table", table=name, file=DESCRIPTOR, value=entry["path"]
        )
    return None


def _with_table(finding: Finding, table: str) -> Finding:
    return Finding(**{**finding.__dict__, "table": table})


def copy_package(root: Path, target: Path) -> Path:
    """Copy the package's own files (descriptor, citation, changelog, data, schemas, sources) to ``target``."""
    import shutil

    from .paths import PACKAGE_FILES, PACKAGE_FOLDERS

    target.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, target / name)
    for folder in PACKAGE_FOLDERS:
        if (root / folder).is_dir():
            shutil.copytree(root / folder, target / folder)
    return target


def sha256_tag(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``, as the descriptor's ``hash`` gives it."""
    return SHA256 + hashlib.sha256(data).hexdigest()


def json_bytes(data: object) -> bytes:
    """The package's form of a JSON file (descriptor, schema): two-space indent, UTF-8, final newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def blocking(findings: list[Finding]) -> list[Finding]:
    """The findings of :func:`load` that stop a tool from reading the package further (see ``BLOCKING``)."""
    return [f for f in findings if f.code in BLOCKING]


def file_integrity(path: Path) -> tuple[int, str]:
    """Size in bytes and ``sha256:<hex>`` of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open_regular(path, name=str(path)) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            size += len(chunk)
            digest.update(chunk)
    return size, SHA256 + digest.hexdigest()


def refresh_integrity(root: str | Path, *, lock_timeout: float | None = None) -> list[str]:
    """Rewrite every resource's ``bytes`` and ``hash`` in the descriptor; return the names changed.

    For maintainers who edited a CSV by hand. The descriptor keeps its key order and
    formatting (two-space indent, UTF-8, final newline). With ``lock_timeout`` (as the command
    runs it) it holds the package lock and first finishes an interrupted change, refusing a
    journal it did not write, like every writing command; without, for a folder just made.
    """
    root = find_root(root)
    if lock_timeout is not None:
        from .transaction import PackageLock, recover

        with PackageLock(root, lock_timeout):
            recover(root)
            return refresh_integrity(root)
    descriptor_file = root / DESCRIPTOR
    package, findings = load(root)
    refused = blocking(findings)
    if refused:
        raise PackageError(refused)
    changed = []
    by_name = {r.name: r for r in package.resources}
    for entry in package.descriptor.get("resources", []):
        resource = by_name.get(entry.get("name"))
        if resource is None:
            continue
        size, digest = file_integrity(resource.file)
        if entry.get("bytes") != size or entry.get("hash") != digest:
            entry["bytes"], entry["hash"] = size, digest
            changed.append(resource.name)
    if changed:
        write_atomic(descriptor_file, json_bytes(package.descriptor))
    return changed


__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Package",
    "PackageError",
    "Resource",
    "UnsafeYaml",
    "check_path",
    "load",
    "load_json",
    "load_readable",
    "load_yaml",
]
