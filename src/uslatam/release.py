"""Releases that cannot be mis-versioned, and the history they are found in.

The data's version is owned by ``datapackage.json``; a release writes it, and in the
same atomic change ``CITATION.cff``'s ``version``, ``date-released`` and locators (from the
descriptor's ``homepage``), ``.zenodo.json`` and the CHANGELOG section that turns
Unreleased into the version's notes. No git tags are
needed: the last release is the newest version with a CHANGELOG section, and its
state is the commit where the descriptor's version became it.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .archive import ZENODO_FILE, ArchiveError, package_citation, with_locators, zenodo_json
from .diff import LEVELS, MAJOR, MINOR, PATCH, Diff, VersionError, _git, compare, git_prefix, read_version
from .package import DESCRIPTOR, find_root
from .validate.rules import released_versions

UNRELEASED = "## [Unreleased]"


class ReleaseError(ValueError):
    """The release was refused; the message says why. Nothing was written."""


@dataclass
class ReleasePlan:
    old_version: str
    new_version: str
    level: str
    required: str | None
    reasons: dict[str, list[str]]
    files: dict[str, bytes] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)

    @property
    def tag_command(self) -> str:
        return f'git tag -a v{self.new_version} -m "us-latam-security-facts {self.new_version}"'


def bump_version(version: str, level: str) -> str:
    major, minor, patch = (int(part) for part in version.split("-")[0].split("+")[0].split("."))
    if level == MAJOR:
        return f"{major + 1}.0.0"
    if level == MINOR:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def release_commit(root: Path, version: str) -> str | None:
    """The commit where the descriptor's version became ``version`` (None if never committed)."""
    prefix = git_prefix(root)
    try:
        commits = _git(root, "log", "--format=%H", "--", f"{prefix}{DESCRIPTOR}").decode().split()
    except VersionError:
        return None
    found = None
    for commit in commits:  # newest first
        try:
            at = json.loads(_git(root, "show", f"{commit}:{prefix}{DESCRIPTOR}")).get("version")
        except (VersionError, ValueError):
            break
        if at == version:
            found = commit
        elif found is not None:
            break
    return found


def last_release(root: str | Path) -> tuple[str, str] | None:
    """(version, commit) of the newest release, or None before the first one or outside git."""
    root = find_root(root)
    changelog = root / "CHANGELOG.md"
    if not changelog.is_file():
        return None
    released = released_versions(changelog.read_text(encoding="utf-8"))
    if not released:
        return None
    try:
        commit = release_commit(root, released[0])
    except VersionError:
        return None
    return (released[0], commit) if commit else None


def _changelog_section(text: str, version: str, date: str, summary: list[str]) -> str:
    if UNRELEASED not in text:
        raise ReleaseError("CHANGELOG.md has no '## [Unreleased]' section to release")
    start = text.index(UNRELEASED) + len(UNRELEASED)
    following = re.search(r"^## \[", text[start:], re.MULTILINE)
    end = start + following.start() if following else len(text)
    notes = text[start:end].strip("\n")
    section = [f"## [{version}] - {date}", ""]
    if summary:
        section += ["### Data", "", *[f"- {line}" for line in summary], ""]
    if notes:
        section += [notes, ""]
    return text[: text.index(UNRELEASED)] + UNRELEASED + "\n\n" + "\n".join(section) + "\n" + text[end:].lstrip("\n")


def _citation(text: str, version: str, date: str) -> str:
    text, count = re.subn(r"(?m)^version: .*$", f"version: {version}", text)
    if count != 1:
        raise ReleaseError("CITATION.cff must have exactly one top-level 'version:' line")
    if re.search(r"(?m)^date-released: .*$", text):
        return re.sub(r"(?m)^date-released: .*$", f"date-released: {date}", text)
    return text.replace(f"version: {version}\n", f"version: {version}\ndate-released: {date}\n", 1)


def _summary(diff: Diff | None, tables: dict[str, list]) -> list[str]:
    if diff is None:
        return [f"{name}: {len(rows)} row(s)" for name, rows in tables.items()]
    lines = []
    for table in diff.tables.values():
        parts = []
        if table.added:
            parts.append(f"{len(table.added)} added")
        if table.changed:
            parts.append(f"{len(table.changed)} changed")
        if table.retracted:
            parts.append(f"{len(table.retracted)} retracted")
        if parts:
            lines.append(f"{table.name}: rows {', '.join(parts)}")
    lines += [f"schema: {c.table}: {c.detail}" for c in diff.schema]
    lines += [f"metadata: {m}" for m in diff.metadata]
    return lines


def plan_release(root: str | Path, level: str | None = None, *, today: datetime.date | None = None) -> ReleasePlan:
    """The release ``uslatam release`` would write; refuses a bump smaller than the changes need."""
    root = find_root(root)
    date = (today or datetime.date.today()).isoformat()
    descriptor = json.loads((root / DESCRIPTOR).read_text(encoding="utf-8"))
    current = descriptor["version"]
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    released = released_versions(changelog)
    now = read_version(root)
    if released:
        commit = release_commit(root, released[0])
        if commit is None:
            raise ReleaseError(
                f"version {released[0]} is released in the working tree but not committed; "
                f"commit it, then tag it: git tag -a v{released[0]}"
            )
        diff = compare(read_version(commit, root=root), now)
        missing = diff.unretracted()
        if missing:
            listing = "; ".join(f"{t}: {', '.join(keys)}" for t, keys in missing.items())
            raise ReleaseError(
                f"released rows were removed without a retraction record ({listing}); add them to data/retractions.csv"
            )
        required = diff.bump()
        if required is None:
            raise ReleaseError(f"nothing to release: no change since {released[0]}")
        level = level or required
        if LEVELS.index(level) < LEVELS.index(required):
            forcing = "; ".join(diff.reasons()[required][:5])
            raise ReleaseError(f"a {level} release is too small: {required} is required by {forcing}")
        reasons = diff.reasons()
    else:
        if level is None:
            raise ReleaseError("the first release needs its level: uslatam release major|minor|patch")
        diff, required, reasons = None, None, {lvl: [] for lvl in LEVELS}
    new_version = (
        "1.0.0" if not released and level == MAJOR and current.startswith("0.") else bump_version(current, level)
    )
    summary = _summary(diff, now.tables)
    plan = ReleasePlan(current, new_version, level, required, reasons, summary=summary)
    descriptor["version"] = new_version
    citation = _citation((root / "CITATION.cff").read_text(encoding="utf-8"), new_version, date)
    try:  # the locator's copies and the archive's metadata, derived in the same change
        descriptor, citation = with_locators(descriptor, citation)
        plan.files[DESCRIPTOR] = (json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        plan.files["CITATION.cff"] = citation.encode("utf-8")
        plan.files[ZENODO_FILE] = zenodo_json(package_citation(root, plan.files))
    except ArchiveError as error:
        raise ReleaseError(str(error)) from None
    plan.files["CHANGELOG.md"] = _changelog_section(changelog, new_version, date, summary).encode("utf-8")
    return plan


def release(
    root: str | Path,
    level: str | None = None,
    *,
    today: datetime.date | None = None,
    dry_run: bool = False,
    lock_timeout: float = 10.0,
) -> ReleasePlan:
    """Plan and (unless ``dry_run``) write a release as one atomic change, under the lock."""
    import hashlib

    from .transaction import Change, PackageLock, recover

    root = find_root(root)
    with PackageLock(root, lock_timeout):
        recover(root)
        plan = plan_release(root, level, today=today)
        descriptor = json.loads(plan.files[DESCRIPTOR])
        for resource in descriptor["resources"]:  # bytes and hash refreshed in the same change
            data = (root / resource["path"]).read_bytes()
            resource["bytes"], resource["hash"] = len(data), "sha256:" + hashlib.sha256(data).hexdigest()
        plan.files[DESCRIPTOR] = (json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        if not dry_run:
            change = Change(root)
            for relpath, data in plan.files.items():
                change.stage(relpath, data)
            change.commit()
        return plan


__all__ = [
    "ReleaseError",
    "ReleasePlan",
    "bump_version",
    "last_release",
    "plan_release",
    "release",
    "release_commit",
    "MAJOR",
    "MINOR",
    "PATCH",
]
