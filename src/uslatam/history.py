"""Release history: git access, versions of the package, release commits and released versions.

The layer below validation, release, diff and cite: each of them reads history
through this module and none reads git itself. A version is a folder or a git
revision, read as a :class:`Snapshot` of plain data. No git tags are needed: the
last release is the newest version with a CHANGELOG section, and its state is the
commit where the descriptor's version became it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .boundary import DEFAULT_LIMITS, Refused, package_bytes, package_text, parse_json
from .package import DESCRIPTOR, check_path, find_root

CHANGELOG = "CHANGELOG.md"
_RELEASE_HEADING = re.compile(r"^## \[?v?(?P<version>[0-9]+\.[0-9]+\.[0-9]+[^\]\s]*)\]?", re.MULTILINE)


class VersionError(ValueError):
    """A version cannot be read (no such folder or revision, or an unsafe descriptor)."""


class HistoryMissing(VersionError):
    """CHANGELOG.md names a release whose commit this checkout's history cannot reach (no git, or shallow)."""


@dataclass
class Snapshot:
    """One version of the package as plain data: descriptor, schemas and rows as text."""

    label: str
    descriptor: dict
    schemas: dict[str, dict] = field(default_factory=dict)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def git(root: Path, *args: str) -> bytes:
    """The output of ``git -C root ARGS``; a failure is a :class:`VersionError` with git's message."""
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True)
    if result.returncode != 0:
        raise VersionError(result.stderr.decode("utf-8", "replace").strip() or f"git {' '.join(args)} failed")
    return result.stdout


def commit_identity(root: Path, commit: str) -> str:
    """What git hands back for ``commit``: its tree and any replacement objects (``git replace``)
    that change what is read of it, or git's message when it cannot say."""
    try:
        tree = git(root, "rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}").decode().strip()
        replaced = git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/replace/").decode()
    except VersionError as error:
        return f"unreadable: {error}"
    return f"{tree}\n{replaced}"


def git_objects(root: Path, specs: list[str]) -> list[bytes | None]:
    """The contents of many ``REVISION:PATH`` objects from one ``git cat-file --batch`` (None: no such object).

    One process for a whole release or a whole history, where ``git show`` a file would start one each.
    """
    if not specs:
        return []
    if any("\n" in spec for spec in specs):
        raise VersionError("a git object name cannot hold a line end")
    request = "".join(f"{spec}\n" for spec in specs).encode("utf-8")
    result = subprocess.run(["git", "-C", str(root), "cat-file", "--batch"], input=request, capture_output=True)
    if result.returncode != 0:
        raise VersionError(result.stderr.decode("utf-8", "replace").strip() or "git cat-file failed")
    out, at = result.stdout, 0
    found: list[bytes | None] = []
    for _ in specs:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) != 3 or header[1] != b"blob":  # "<spec> missing", or a tree or a commit
            found.append(None)
            if len(header) == 3:
                at += int(header[2]) + 1
            continue
        size = int(header[2])
        found.append(out[at : at + size])
        at += size + 1  # the content, then a line end
    return found


def git_prefix(root: Path) -> str:
    """The package folder's path inside its git repository ('' at the top)."""
    top = Path(git(root, "rev-parse", "--show-toplevel").decode().strip())
    relative = root.resolve().relative_to(top.resolve())
    return "" if str(relative) == "." else f"{relative.as_posix()}/"


def file_at(root: Path, revision: str, relpath: str) -> bytes:
    """The bytes of the package file ``relpath`` at a git revision."""
    return git(root, "show", f"{revision}:{git_prefix(root)}{relpath}")


def read_version(spec: str | Path, *, root: Path | None = None) -> Snapshot:
    """A folder (if ``spec`` names one) or a git revision of the package at ``root``."""
    path = Path(spec)
    if path.exists():
        folder = find_root(path)
        return _snapshot(str(spec), lambda relpath: _folder_file(folder, relpath))
    package = find_root(root or Path("."))
    prefix = git_prefix(package)
    try:
        git(package, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}")
    except VersionError:
        raise VersionError(
            f"{spec} is neither a folder nor a revision git knows here (a tag, branch or commit)"
        ) from None
    return _snapshot(str(spec), _GitRevision(package, str(spec), prefix))


class _GitRevision:
    """The files of a package at a git revision: the descriptor first, then every file it names in one batch."""

    def __init__(self, root: Path, revision: str, prefix: str) -> None:
        self.root, self.revision, self.prefix = root, revision, prefix
        self.read: dict[str, bytes | None] = {}

    def __call__(self, relpath: str) -> bytes:
        if relpath not in self.read:
            self._fetch([relpath])
            if relpath == DESCRIPTOR:
                self._fetch(_named_files(self.read[relpath]))
        content = self.read[relpath]
        if content is None:
            raise VersionError(f"{self.revision} has no {self.prefix}{relpath}")
        return content

    def _fetch(self, relpaths: list[str]) -> None:
        wanted = [r for r in dict.fromkeys(relpaths) if r not in self.read]
        specs = [f"{self.revision}:{self.prefix}{relpath}" for relpath in wanted]
        self.read.update(zip(wanted, git_objects(self.root, specs), strict=True))


def _named_files(descriptor: bytes | None) -> list[str]:
    """The schema and data paths a descriptor names (unchecked: the snapshot checks each before reading it)."""
    if descriptor is None or len(descriptor) > DEFAULT_LIMITS.max_descriptor_bytes:
        return []  # the snapshot refuses it when it parses it
    try:
        resources = json.loads(descriptor).get("resources", [])
    except (ValueError, AttributeError, RecursionError):
        return []
    if not isinstance(resources, list):
        return []
    named = [
        r.get(key)
        for r in resources[: DEFAULT_LIMITS.max_resources]
        if isinstance(r, dict)
        for key in ("schema", "path")
    ]
    return [path for path in named if isinstance(path, str) and "\n" not in path]


def _folder_file(folder: Path, relpath: str) -> bytes:
    """A file of a folder version, through the trust boundary (contained, regular, bounded)."""
    limit = DEFAULT_LIMITS.max_descriptor_bytes if relpath.endswith(".json") else DEFAULT_LIMITS.max_file_bytes
    try:
        return package_bytes(folder, relpath, what=relpath, limit=limit)
    except Refused as refused:
        raise VersionError(str(refused)) from None


def _snapshot(label: str, read: Callable[[str], bytes]) -> Snapshot:
    """Every file of a version read and parsed; anything unreadable is a VersionError naming the file."""
    try:
        raw = read(DESCRIPTOR)
    except (OSError, VersionError) as error:
        raise VersionError(f"{label}: no readable {DESCRIPTOR} ({error})") from None
    descriptor = _parsed_json(label, DESCRIPTOR, raw)
    if not isinstance(descriptor, dict):
        raise VersionError(f"{label}: {DESCRIPTOR} must hold a JSON object")
    resources = descriptor.get("resources", [])
    if not isinstance(resources, list) or len(resources) > DEFAULT_LIMITS.max_resources:
        raise VersionError(f"{label}: {DESCRIPTOR} has no list of at most {DEFAULT_LIMITS.max_resources} resources")
    snapshot = Snapshot(label=label, descriptor=descriptor, files={DESCRIPTOR: raw})
    for resource in resources:
        name = resource.get("name") if isinstance(resource, dict) else None
        if not isinstance(name, str):
            raise VersionError(f"{label}: {DESCRIPTOR} has a resource without a name")
        for key in ("path", "schema"):
            # the same containment rule as validation; no folder is touched for a git revision
            problem = check_path(Path("/nonexistent-package"), resource.get(key), what=f"{name} {key}")
            if problem:
                raise VersionError(f"{label}: {problem.message}")
        schema_bytes = read(resource["schema"])
        data_bytes = read(resource["path"])
        snapshot.files[resource["schema"]] = schema_bytes
        snapshot.files[resource["path"]] = data_bytes
        schema = _parsed_json(label, resource["schema"], schema_bytes)
        if not isinstance(schema, dict):
            raise VersionError(f"{label}: {resource['schema']} must hold a JSON object")
        snapshot.schemas[name] = schema
        try:
            text = data_bytes.decode("utf-8")
            snapshot.tables[name] = list(csv.DictReader(io.StringIO(text, newline="")))
        except (UnicodeDecodeError, csv.Error) as error:
            raise VersionError(f"{label}: {resource['path']} cannot be read as UTF-8 CSV ({error})") from None
    return snapshot


def _parsed_json(label: str, relpath: str, raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise VersionError(f"{label}: {relpath} is not UTF-8 (byte {error.start})") from None
    data, findings = parse_json(text, limits=DEFAULT_LIMITS, file=relpath, code="package-error")
    if data is None:
        raise VersionError(f"{label}: {findings[0].message}")
    return data


def changelog_text(root: Path) -> str | None:
    """CHANGELOG.md through the trust boundary (None if the package has none or it cannot be read)."""
    if not (root / CHANGELOG).is_file():
        return None
    try:
        return package_text(root, CHANGELOG, what=CHANGELOG, limit=DEFAULT_LIMITS.max_file_bytes)
    except Refused:
        return None


def released_versions(changelog: str) -> list[str]:
    """Versions of CHANGELOG.md's released sections, newest first (Unreleased is skipped)."""
    return [m["version"] for m in _RELEASE_HEADING.finditer(changelog)]


def release_commit(root: Path, version: str) -> str | None:
    """The commit where the descriptor's version became ``version`` (None if never committed).

    Raises :class:`HistoryMissing` when the history cannot say: outside git, or in a shallow
    clone whose oldest commit still has the version (the release may lie beyond it).
    """
    try:
        prefix = git_prefix(root)
    except VersionError as error:
        raise HistoryMissing(f"there is no git history here ({error})") from None
    try:
        commits = git(root, "log", "--format=%H", "--", f"{prefix}{DESCRIPTOR}").decode().split()
    except VersionError:
        return None
    found = None
    descriptors = git_objects(root, [f"{commit}:{prefix}{DESCRIPTOR}" for commit in commits])
    for commit, raw in zip(commits, descriptors, strict=True):  # newest first
        try:
            if raw is None:
                raise VersionError(f"{commit} has no {DESCRIPTOR}")
            descriptor = _parsed_json(commit, DESCRIPTOR, raw)
        except VersionError:
            break
        at = descriptor.get("version") if isinstance(descriptor, dict) else None
        if at == version:
            found = commit
        elif found is not None:
            return found
    if found is not None and _shallow_root(root, found):
        raise HistoryMissing(
            f"the history is shallow: its oldest commit {found[:12]} already has version {version}, "
            "so the release may be older"
        )
    return found


def _shallow_root(root: Path, commit: str) -> bool:
    """Whether ``commit`` is where a shallow clone's history is cut (its parents were not fetched)."""
    if git(root, "rev-parse", "--is-shallow-repository").decode().strip() != "true":
        return False
    return len(git(root, "rev-list", "--parents", "-n", "1", commit).decode().split()) == 1


def last_release(root: str | Path) -> tuple[str, str] | None:
    """(version, commit) of the newest release, or None before the first one (HistoryMissing: not reachable)."""
    package = find_root(root)
    changelog = changelog_text(package)
    if changelog is None:
        return None
    released = released_versions(changelog)
    if not released:
        return None
    try:
        commit = release_commit(package, released[0])
    except HistoryMissing:
        raise  # a release exists but cannot be found: the caller must say so, not skip silently
    except VersionError:
        return None
    return (released[0], commit) if commit else None


def last_release_snapshot(root: Path) -> Snapshot | None:
    """The newest release as a snapshot labelled with its version, or None (see :func:`last_release`)."""
    found = last_release(root)
    if found is None:
        return None
    snapshot = read_version(found[1], root=root)
    snapshot.label = found[0]
    return snapshot
