"""Reading a data package as untrusted input.

A package may be a downloaded copy, so nothing it names is opened before its path
is proven to stay inside the package folder, and no URL is ever fetched.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import cast

from .files import write_atomic
from .report import Finding

DESCRIPTOR = "datapackage.json"
SHA256 = "sha256:"  # the prefix of a descriptor's hash, as Data Package writes it
# Findings of load() after which a package must not be read further by a tool that writes or loads:
# a path that leaves the package or names a URL, a file the descriptor names that is not there,
# a descriptor that is not one, or keys that a JSON reader would silently drop.
BLOCKING = ("unsafe-path", "remote-path", "missing-file", "package-error", "duplicate-json-key")


@dataclass(frozen=True)
class Limits:
    """Documented limits: input beyond them is answered at once, never read in full."""

    max_descriptor_bytes: int = 4 * 1024 * 1024
    max_json_depth: int = 64
    max_file_bytes: int = 2 * 1024**3
    max_cell_chars: int = 100_000
    max_columns: int = 1_000


DEFAULT_LIMITS = Limits()

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


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


def check_path(root: Path, value: object, *, what: str) -> Finding | None:
    """A finding if ``value`` is not a safe relative path inside ``root``, else None."""
    file = DESCRIPTOR
    if not isinstance(value, str) or not value:
        return Finding(
            "resource-error", f"{what} must be a non-empty relative path, not {value!r}", file=file, value=repr(value)
        )
    if _URL.match(value) and not re.match(r"^[A-Za-z]:[\\/]", value) or value.startswith("//"):
        return Finding("remote-path", f"{what} {value!r} is a URL; URLs are never fetched", file=file, value=value)
    if "\\" in value or value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        return Finding(
            "unsafe-path",
            f"{what} {value!r} is absolute or uses backslashes",
            file=file,
            value=value,
            expected="a relative POSIX path inside the package",
        )
    parts = PurePosixPath(value).parts
    if any(part in ("..", ".") for part in value.split("/")):
        return Finding(
            "unsafe-path",
            f"{what} {value!r} contains '.' or '..'",
            file=file,
            value=value,
            expected="a relative path without '.' or '..'",
        )
    if any(part.startswith(".") for part in parts):
        return Finding(
            "unsafe-path",
            f"{what} {value!r} goes into a hidden file or folder",
            file=file,
            value=value,
            expected="no part starting with '.'",
        )
    resolved = (root / value).resolve()
    try:
        resolved.relative_to(root.resolve())
    except ValueError:
        return Finding(
            "unsafe-path",
            f"{what} {value!r} leads outside the package (through a symlink)",
            file=file,
            value=value,
            expected="a path that stays inside the package",
        )
    return None


class _DuplicateKeys(list):
    pass


def load_json(path: Path, *, limits: Limits, file: str) -> tuple[object | None, list[Finding]]:
    """Parse JSON strictly: size and depth capped, duplicate keys reported, huge numbers refused."""
    findings: list[Finding] = []
    code = "package-error" if file == DESCRIPTOR else "schema-error"
    try:
        size = path.stat().st_size
    except OSError as error:
        return None, [Finding("missing-file", f"cannot read {file}: {error.strerror}", file=file)]
    if size > limits.max_descriptor_bytes:
        return None, [
            Finding(
                code,
                f"{file} is {size} bytes; the limit is {limits.max_descriptor_bytes}",
                file=file,
                value=str(size),
                expected=f"<= {limits.max_descriptor_bytes} bytes",
            )
        ]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [Finding(code, f"{file} is not UTF-8 (byte {error.start})", file=file)]
    duplicates: list[tuple[str, str]] = []

    def pairs_hook(pairs):
        seen: dict = {}
        for key, value in pairs:
            if key in seen:
                duplicates.append((key, text))
            seen[key] = value
        return seen

    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > 100:
            raise ValueError(f"a number of {len(digits)} digits")
        return int(digits)

    if _nesting_depth(text) > limits.max_json_depth:
        return None, [
            Finding(
                code,
                f"{file} nests deeper than {limits.max_json_depth} levels",
                file=file,
                expected=f"at most {limits.max_json_depth} levels",
            )
        ]
    try:
        data = json.loads(text, object_pairs_hook=pairs_hook, parse_int=bounded_int)
    except json.JSONDecodeError as error:
        return None, [Finding(code, f"{file} is not valid JSON: {error.msg}", file=file, line=error.lineno)]
    except (ValueError, RecursionError) as error:
        return None, [Finding(code, f"{file} cannot be read: {error}", file=file)]
    for key, _ in duplicates:
        findings.append(
            Finding(
                "duplicate-json-key", f"{file} repeats the key {key!r}; only the last would count", file=file, value=key
            )
        )
    return data, findings


def _nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside strings, found without parsing (so no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def load(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> tuple[Package, list[Finding]]:
    """Read the descriptor and every schema it names, checking every path before opening it.

    Raises :class:`PackageError` when the descriptor itself cannot be read; other
    problems come back as findings, with the resources that are safe to read.
    """
    root = find_root(path)
    descriptor_file = root / DESCRIPTOR
    if not descriptor_file.is_file():
        raise PackageError([Finding("missing-file", f"no {DESCRIPTOR} in {root}", file=DESCRIPTOR)])
    problem = check_path(root, DESCRIPTOR, what="the descriptor")
    if problem:
        raise PackageError([problem])
    data, findings = load_json(descriptor_file, limits=limits, file=DESCRIPTOR)
    if not isinstance(data, dict):
        if data is not None:
            findings.append(Finding("package-error", f"{DESCRIPTOR} must hold a JSON object", file=DESCRIPTOR))
        raise PackageError(findings)
    package = Package(root=root, descriptor=data)
    resources = data.get("resources")
    if not isinstance(resources, list) or not resources:
        findings.append(Finding("package-error", "the descriptor has no list of resources", file=DESCRIPTOR))
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
        if not file.is_file():
            findings.append(
                Finding("missing-file", f"the data file {entry['path']} does not exist", table=name, file=entry["path"])
            )
            continue
        size = file.stat().st_size
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
            if not (root / schema_ref).is_file():
                findings.append(
                    Finding("missing-file", f"the schema file {schema_ref} does not exist", table=name, file=schema_ref)
                )
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
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            size += len(chunk)
            digest.update(chunk)
    return size, SHA256 + digest.hexdigest()


def refresh_integrity(root: str | Path) -> list[str]:
    """Rewrite every resource's ``bytes`` and ``hash`` in the descriptor; return the names changed.

    For maintainers who edited a CSV by hand. The descriptor keeps its key order and
    formatting (two-space indent, UTF-8, final newline).
    """
    root = find_root(root)
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


class UnsafeYaml(ValueError):
    pass


def load_yaml(text: str, *, max_chars: int = 1_000_000):
    """YAML from an untrusted file: size capped, no anchors or aliases (no alias bombs), safe tags only."""
    import yaml

    if len(text) > max_chars:
        raise UnsafeYaml(f"{len(text)} characters; the limit is {max_chars}")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise UnsafeYaml("anchors and aliases are not allowed")
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UnsafeYaml(str(error).splitlines()[0]) from None
