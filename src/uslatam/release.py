"""Releases that cannot be mis-versioned.

The data's version is owned by ``datapackage.json``; a release writes it, and in the
same atomic change ``CITATION.cff``'s ``version``, ``date-released`` and locators (from the
descriptor's ``homepage``), ``.zenodo.json`` and the CHANGELOG section that turns
Unreleased into the version's notes. Where releases are found (commits, released
versions) is :mod:`uslatam.history`.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .archive import ArchiveError, package_citation, with_locators, with_sources, zenodo_json
from .diff import LEVELS, MAJOR, MINOR, PATCH, Diff, compare
from .history import HistoryMissing, last_release, read_version, release_commit, released_versions
from .package import DESCRIPTOR, find_root, json_bytes
from .paths import ZENODO_FILE

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
    regenerated: list[str] = field(default_factory=list)  # generated documents rewritten for the new version
    staged: list[str] = field(default_factory=list)  # package paths given to git add
    committed: str | None = None  # the release commit, when release made it
    tagged: str | None = None  # the annotated tag, when release made it
    git_problem: str | None = None  # why release could not stage, commit or tag (the commands then to run)
    git_refused: bool = False  # git is there and refused to stage, commit or tag (not: no git work tree)

    @property
    def tag(self) -> str:
        return f"v{self.new_version}"

    @property
    def tag_command(self) -> str:
        return f'git tag -a {self.tag} -m "us-latam-security-facts {self.new_version}"'

    @property
    def commit_command(self) -> str:
        paths = " ".join(self.staged) or "."
        return f'git add -- {paths} && git commit -m "Release {self.new_version}" -- {paths}'


def bump_version(version: str, level: str) -> str:
    major, minor, patch = (int(part) for part in version.split("-")[0].split("+")[0].split("."))
    if level == MAJOR:
        return f"{major + 1}.0.0"
    if level == MINOR:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


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
    descriptor = json.loads(_text(root, DESCRIPTOR))
    current = descriptor["version"]
    changelog = _text(root, "CHANGELOG.md")
    released = released_versions(changelog)
    now = read_version(root)
    if released:
        try:
            commit = release_commit(root, released[0])
        except HistoryMissing as error:
            raise ReleaseError(
                f"cannot find release {released[0]} to compare with: {error}; fetch the history "
                "(git fetch --unshallow) and release from a full clone"
            ) from None
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
    citation = _citation(_text(root, "CITATION.cff"), new_version, date)
    try:  # the locator's copies and the archive's metadata, derived in the same change
        descriptor, citation = with_locators(descriptor, citation)
        # every source of the package cited: a source added since the last release joins both lists
        cited = package_citation(root, {DESCRIPTOR: json_bytes(descriptor), "CITATION.cff": citation.encode("utf-8")})
        descriptor, citation = with_sources(descriptor, citation, cited)
        plan.files[DESCRIPTOR] = json_bytes(descriptor)
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
    documents: Mapping[str, Callable[[Path], str]] | None = None,
    commit: bool = False,
) -> ReleasePlan:
    """Validate, plan and (unless ``dry_run``) write a release as one atomic change, under the lock.

    An invalid package is refused, naming its findings. Bytes and hashes are never
    refreshed here: a hand edit fails validation (byte-count, hash-count) until
    ``uslatam rehash`` is run as its own, visible step. ``documents`` (path -> maker) are
    regenerated from the released package, so none names the old version. In a git work
    tree the package's files (new source texts included) are staged; with ``commit`` they
    are committed as "Release X.Y.Z" and tagged ``vX.Y.Z`` (annotated). What git refused is
    ``plan.git_problem``; nothing of the release is undone for it.
    """
    from .transaction import Change, PackageLock, recover
    from .validate import validate

    root = find_root(root)
    with PackageLock(root, lock_timeout):
        recover(root)
        report = validate(root)
        if not report.valid:
            raise ReleaseError(_invalid(report))
        plan = plan_release(root, level, today=today)
        if not dry_run:
            change = Change(root)
            for relpath, data in plan.files.items():
                change.stage(relpath, data)
            change.commit()
            plan.regenerated = _regenerate(root, documents or {})
            _record_in_git(root, plan, commit, generated=tuple(documents or {}))
        return plan


def _regenerate(root: Path, documents: Mapping[str, Callable[[Path], str]]) -> list[str]:
    """Rewrite each generated document the package has that the new version changes; the paths rewritten.

    A document the package does not have is not created (a package need not carry them all).
    """
    from .files import write_atomic

    rewritten = []
    for relpath, make in documents.items():
        target = root / relpath
        if not target.is_file():
            continue
        try:
            text = make(root).encode("utf-8")
        except ValueError as error:  # the release is written: say which document is left stale, and why
            raise ReleaseError(
                f"released, but {relpath} could not be regenerated ({error}); run uslatam docs"
            ) from None
        if _text(root, relpath).encode("utf-8") != text:
            write_atomic(target, text)
            rewritten.append(relpath)
    return rewritten


def _record_in_git(root: Path, plan: ReleasePlan, commit: bool, generated: tuple[str, ...] = ()) -> None:
    """Stage the package's files and its generated documents (regenerated now or by ``uslatam docs``
    before: either way they describe this release); with ``commit``, commit only them and tag the
    commit (else say how)."""
    from .history import VersionError, git, git_prefix
    from .paths import PACKAGE_FILES, PACKAGE_FOLDERS

    try:
        prefix = git_prefix(root)
    except VersionError:
        plan.git_problem = "the package is not in a git work tree: nothing was staged, committed or tagged"
        return
    wanted = [*PACKAGE_FILES, *PACKAGE_FOLDERS, *plan.files, *generated]
    plan.staged = sorted({path for path in wanted if (root / path).exists()})
    paths = [f"{prefix}{path}" for path in plan.staged]
    top = Path(git(root, "rev-parse", "--show-toplevel").decode().strip())
    try:
        git(top, "add", "--", *paths)
        if not commit:
            return
        git(top, "commit", "-q", "-m", f"Release {plan.new_version}", "--", *paths)
        plan.committed = git(top, "rev-parse", "HEAD").decode().strip()
        git(top, "tag", "-a", plan.tag, "-m", f"us-latam-security-facts {plan.new_version}")
        plan.tagged = plan.tag
    except VersionError as error:
        plan.git_problem = f"git refused ({error})"
        plan.git_refused = True


def _text(root: Path, relpath: str) -> str:
    """A file of the package to release, through the trust boundary."""
    from .boundary import DEFAULT_LIMITS, Refused, package_text

    try:
        return package_text(root, relpath, what=relpath, limit=DEFAULT_LIMITS.max_text_bytes)
    except Refused as refused:
        raise ReleaseError(str(refused)) from None


def _invalid(report) -> str:
    """The refusal of an invalid package: how many errors, and the first few, each with its place."""
    shown = []
    for finding in report.errors[:5]:
        place = ":".join(str(part) for part in (finding.file, finding.line) if part is not None)
        shown.append(f"{finding.code} {place} {finding.message}".replace("  ", " "))
    more = f" (and {len(report.errors) - 5} more)" if len(report.errors) > 5 else ""
    hint = " Run uslatam validate; after a hand edit of a CSV, uslatam rehash." if report.errors else ""
    fatal = "" if report.errors else " (the package cannot be read)"
    return f"the package does not validate{fatal}: {'; '.join(shown)}{more}.{hint}"


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
