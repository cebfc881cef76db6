"""uslatam diff, release and cite: keyed diffs, bumps that cannot be too small, citations."""

from __future__ import annotations

import csv
import datetime
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from uslatam.cite import citation, render
from uslatam.diff import MAJOR, MINOR, PATCH, diff
from uslatam.package import refresh_integrity
from uslatam.release import ReleaseError, plan_release, release
from uslatam.validate import validate

from .conftest import ROOT, record, uslatam

SOURCE = "insightcrime-2017-05-19-mexico-colombia-meetings"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _schema(package: Path, table: str) -> dict:
    return json.loads((package / "schemas" / f"{table}.json").read_text(encoding="utf-8"))


def _put_schema(package: Path, table: str, schema: dict) -> None:
    (package / "schemas" / f"{table}.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")


def _field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def _rows(package: Path, table: str) -> tuple[list[str], list[list[str]]]:
    records = list(csv.reader(io.StringIO((package / "data" / f"{table}.csv").read_text(encoding="utf-8"), newline="")))
    return records[0], records[1:]


def _put_rows(package: Path, table: str, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    (package / "data" / f"{table}.csv").write_text(buffer.getvalue(), encoding="utf-8")


def field_added(p):
    s = _schema(p, "positions")
    s["fields"].append({"name": "note", "type": "string", "description": "d", "example": "x"})
    _put_schema(p, "positions", s)
    h, r = _rows(p, "positions")
    _put_rows(p, "positions", h + ["note"], [x + [""] for x in r])


def field_removed(p):
    s = _schema(p, "source_authors")
    s["fields"] = [f for f in s["fields"] if f["name"] != "basis"]
    _put_schema(p, "source_authors", s)
    h, r = _rows(p, "source_authors")
    _put_rows(p, "source_authors", h[:-1], [x[:-1] for x in r])


def field_renamed(p):
    s = _schema(p, "positions")
    _field(s, "label")["name"] = "title"
    _put_schema(p, "positions", s)
    h, r = _rows(p, "positions")
    _put_rows(p, "positions", [("title" if c == "label" else c) for c in h], r)


def field_retyped(p):
    s = _schema(p, "spans")
    _field(s, "start")["type"] = "number"
    _put_schema(p, "spans", s)


def enum_tightened(p):
    s = _schema(p, "quotes")
    _field(s, "quote_type")["constraints"]["enum"].remove("term")
    _put_schema(p, "quotes", s)


def enum_loosened(p):
    s = _schema(p, "quotes")
    _field(s, "quote_type")["constraints"]["enum"].append("paraphrase")
    _put_schema(p, "quotes", s)


def required_added(p):
    s = _schema(p, "events")
    _field(s, "place_as_written").setdefault("constraints", {})["required"] = True
    _put_schema(p, "events", s)


def required_removed(p):
    s = _schema(p, "events")
    _field(s, "summary")["constraints"].pop("required")
    _put_schema(p, "events", s)


def pattern_changed(p):
    s = _schema(p, "entities")
    _field(s, "country_code")["constraints"]["pattern"] = "[A-Z]{2}"
    _put_schema(p, "entities", s)


def minimum_raised(p):
    s = _schema(p, "spans")
    _field(s, "start")["constraints"]["minimum"] = 1
    _put_schema(p, "spans", s)


def primary_key_changed(p):
    s = _schema(p, "event_participants")
    s["primaryKey"] = ["event_id", "entity_id"]
    _put_schema(p, "event_participants", s)


def table_removed(p):
    d = json.loads((p / "datapackage.json").read_text())
    d["resources"] = [r for r in d["resources"] if r["name"] != "source_authors"]
    (p / "datapackage.json").write_text(json.dumps(d, indent=2))


def rows_added(p):
    h, r = _rows(p, "source_authors")
    _put_rows(p, "source_authors", h, r + [[SOURCE, "3", "A. Third", "public_reposts"]])


def value_corrected(p):
    h, r = _rows(p, "positions")
    r[0][h.index("label")] = "President of the Republic of Colombia"
    _put_rows(p, "positions", h, r)


def description_edited(p):
    s = _schema(p, "positions")
    _field(s, "label")["description"] = "The office's name."
    _put_schema(p, "positions", s)


def descriptor_title_edited(p):
    d = json.loads((p / "datapackage.json").read_text())
    d["title"] = "US-Latin America security facts"
    (p / "datapackage.json").write_text(json.dumps(d, indent=2))


def row_retracted(p):
    h, r = _rows(p, "source_authors")
    _put_rows(p, "source_authors", h, r[:1])
    header, retractions = _rows(p, "retractions")  # earlier retractions stay: they are released rows too
    _put_rows(
        p,
        "retractions",
        header,
        sorted([*retractions, ["source_authors", f"{SOURCE}|2", "2026-12-01", "Not an author.", ""]]),  # key order
    )


def row_removed_silently(p):
    h, r = _rows(p, "source_authors")
    _put_rows(p, "source_authors", h, r[:1])


def number_reformatted(p):
    h, r = _rows(p, "statistics")
    measured = next(row for row in r if row[h.index("value")])  # a quantifier has no value to reformat
    measured[h.index("value")] += ".0"
    _put_rows(p, "statistics", h, r)


CASES = [
    (field_added, MAJOR),
    (field_removed, MAJOR),
    (field_renamed, MAJOR),
    (field_retyped, MAJOR),
    (enum_tightened, MAJOR),
    (enum_loosened, MINOR),
    (required_added, MAJOR),
    (required_removed, MINOR),
    (pattern_changed, MAJOR),
    (minimum_raised, MAJOR),
    (primary_key_changed, MAJOR),
    (table_removed, MAJOR),
    (rows_added, MINOR),
    (value_corrected, PATCH),
    (description_edited, PATCH),
    (descriptor_title_edited, PATCH),
    (row_retracted, PATCH),
    (row_removed_silently, None),
    (number_reformatted, None),
]


@pytest.mark.parametrize(("change", "bump"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_each_change_requires_the_right_bump(package_copy: Path, tmp_path: Path, change, bump) -> None:
    before = tmp_path / "before"
    shutil.copytree(package_copy, before)
    change(package_copy)
    result = diff(before, package_copy)
    assert result.bump() == bump, result.reasons()


def test_a_silently_removed_row_is_unretracted(package_copy: Path, tmp_path: Path) -> None:
    before = tmp_path / "before"
    shutil.copytree(package_copy, before)
    row_removed_silently(package_copy)
    assert diff(before, package_copy).unretracted() == {"source_authors": [f"{SOURCE}|2"]}
    found = validate(package_copy, against=before).findings
    assert [(f.code, f.table, f.value) for f in found if f.code == "removed-without-retraction"] == [
        ("removed-without-retraction", "source_authors", f"{SOURCE}|2")
    ]


def test_renames_and_retypes_are_named(package_copy: Path, tmp_path: Path) -> None:
    before = tmp_path / "before"
    shutil.copytree(package_copy, before)
    field_renamed(package_copy)
    kinds = {(c.kind, c.field) for c in diff(before, package_copy).schema}
    assert ("field-renamed", "label") in kinds


def test_diff_of_a_package_with_itself_is_empty() -> None:
    result = uslatam("diff", ".", ".", "--exit-code", cwd=ROOT)
    assert result.returncode == 0 and result.stdout.startswith("no differences")
    assert diff(ROOT, ROOT).empty


def test_a_revision_git_does_not_know_is_said_to_be_one() -> None:
    for unknown in ("v99.0.0", "--help"):  # a release never made; an option where a revision goes
        result = uslatam("diff", "--", unknown, ".", cwd=ROOT)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"{unknown} is neither a folder nor a revision git knows here" in result.stderr, result.stderr


def test_diff_after_add_lists_exactly_the_added_rows(package_copy: Path, tmp_path: Path) -> None:
    before = tmp_path / "before"
    shutil.copytree(package_copy, before)
    (package_copy / "in.yaml").write_text(
        f"source_id: {SOURCE}\ntrend_claims:\n  - claim_id: new-claim\n    subject: s\n    direction: increase\n"
        "    period_precision: unknown\n    period_basis: none\n    certainty: asserted\n    voice: source\n"
        "    span: {words: Heroin production is rising in Mexico}\n",
        encoding="utf-8",
    )
    assert uslatam("add", "in.yaml", cwd=package_copy).returncode == 0
    result = diff(before, package_copy)
    changed = {
        name: ([r[t.key_columns[0]] for r in t.added], t.removed, t.changed)
        for name, t in result.tables.items()
        if not t.empty
    }
    assert changed == {"trend_claims": (["new-claim"], [], [])}
    assert result.bump() == MINOR and not result.schema
    cli = uslatam("diff", str(before), str(package_copy), "--exit-code", "--format", "json", cwd=package_copy)
    assert (
        cli.returncode == 1 and json.loads(cli.stdout)["tables"]["trend_claims"]["added"][0]["claim_id"] == "new-claim"
    )
    markdown = uslatam("diff", str(before), str(package_copy), "--format", "markdown", cwd=package_copy).stdout
    assert "| `trend_claims` | 1 | 0 | 0 | 0 |" in markdown


# --- releases in a git repository -----------------------------------------------------------


@pytest.fixture
def repo(package_copy: Path) -> Path:
    """A git repository of the package as it was before its first release (version 0.1.0)."""
    import re

    descriptor = json.loads((package_copy / "datapackage.json").read_text())
    descriptor["version"] = "0.1.0"
    (package_copy / "datapackage.json").write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n")
    citation = (package_copy / "CITATION.cff").read_text()
    citation = re.sub(r"(?m)^date-released: .*\n", "", re.sub(r"(?m)^version: .*$", "version: 0.1.0", citation))
    (package_copy / "CITATION.cff").write_text(citation)
    (package_copy / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n### Added\n- The first rows.\n")
    assert validate(package_copy).valid
    git(package_copy, "init", "-q")
    git(package_copy, "add", "-A")
    git(package_copy, "commit", "-qm", "data")
    return package_copy


DAY = datetime.date(2026, 12, 1)


def _versions(package: Path) -> tuple[str, str, str]:
    import yaml

    from uslatam.history import released_versions

    descriptor = json.loads((package / "datapackage.json").read_text())["version"]
    citation = yaml.safe_load((package / "CITATION.cff").read_text())
    changelog = released_versions((package / "CHANGELOG.md").read_text())
    return descriptor, str(citation["version"]), changelog[0] if changelog else None


def test_first_release_then_no_double_release(repo: Path) -> None:
    with pytest.raises(ReleaseError, match="needs its level"):
        plan_release(repo)
    plan = release(repo, "major", today=DAY)
    assert plan.new_version == "1.0.0"
    assert _versions(repo) == ("1.0.0", "1.0.0", "1.0.0")
    changelog = (repo / "CHANGELOG.md").read_text()
    assert "## [Unreleased]\n\n## [1.0.0] - 2026-12-01\n\n### Data\n\n- sources: 1 row(s)" in changelog
    assert "date-released: 2026-12-01" in (repo / "CITATION.cff").read_text()
    assert validate(repo).valid
    with pytest.raises(ReleaseError, match="not committed"):
        release(repo, "patch", today=DAY)
    git(repo, "commit", "-qam", "Release 1.0.0")
    with pytest.raises(ReleaseError, match="nothing to release"):
        release(repo, "patch", today=DAY)


def test_release_after_an_addition_is_minor_and_patch_is_refused(repo: Path) -> None:
    release(repo, "major", today=DAY)
    git(repo, "commit", "-qam", "Release 1.0.0")
    rows_added(repo)
    refresh_integrity(repo)
    refused = uslatam("release", "patch", cwd=repo)
    assert refused.returncode == 1 and "minor is required by source_authors: 1 row(s) added" in refused.stderr
    (repo / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "data-dictionary.md", repo / "docs" / "data-dictionary.md")  # a generated document
    done = uslatam("release", cwd=repo)
    assert done.returncode == 0 and "released 1.1.0 (minor" in done.stdout and "tagged it v1.1.0" in done.stdout
    # every file the release wrote or needs is in its commit (.uslatam/ holds the lock: ignored in a real clone)
    assert git(repo, "status", "--porcelain", "--", ".", ":!.uslatam") == ""
    assert git(repo, "tag", "--points-at", "HEAD").split() == ["v1.1.0"]
    assert git(repo, "cat-file", "-t", "v1.1.0").strip() == "tag"  # annotated
    assert "version 1.1.0" in (repo / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert _versions(repo) == ("1.1.0", "1.1.0", "1.1.0")
    assert "- source_authors: rows 1 added" in (repo / "CHANGELOG.md").read_text()
    assert validate(repo).valid


def test_a_release_git_refuses_to_commit_exits_2_with_the_commands(repo: Path) -> None:
    release(repo, "major", today=DAY)
    git(repo, "commit", "-qam", "Release 1.0.0")
    rows_added(repo)
    refresh_integrity(repo)
    git(repo, "commit", "-qam", "a row")
    git(repo, "config", "commit.gpgsign", "true")  # a signing key that cannot sign: git refuses the commit
    git(repo, "config", "gpg.program", "false")
    refused = uslatam("release", cwd=repo)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "written but not committed or tagged" in refused.stderr and "Traceback" not in refused.stderr
    assert "commit and tag it:" in refused.stdout and "git tag -a v1.1.0" in refused.stdout
    assert git(repo, "tag", "--list", "v1.1.0") == ""


def test_patch_after_a_schema_change_is_refused_with_the_reason(repo: Path) -> None:
    release(repo, "major", today=DAY)
    git(repo, "commit", "-qam", "Release 1.0.0")
    enum_tightened(repo)  # leaves a cell outside the enum: release() would refuse it as invalid first
    with pytest.raises(ReleaseError, match=r"major is required by quotes: quote_type: enum now"):
        plan_release(repo, "patch", today=DAY)
    with pytest.raises(ReleaseError, match=r"does not validate: constraint-error data/quotes.csv"):
        release(repo, "patch", today=DAY)


def test_release_refuses_silently_removed_rows(repo: Path) -> None:
    release(repo, "major", today=DAY)
    git(repo, "commit", "-qam", "Release 1.0.0")
    row_removed_silently(repo)
    refresh_integrity(repo)
    assert "removed-without-retraction" in {f.code for f in validate(repo).findings}
    with pytest.raises(ReleaseError, match="does not validate: removed-without-retraction"):
        release(repo, "major", today=DAY)
    row_retracted(repo)
    refresh_integrity(repo)
    assert validate(repo).valid
    assert release(repo, today=DAY).new_version == "1.0.1"


def test_a_shallow_clone_or_a_copy_without_git_says_the_removed_row_check_was_skipped(
    repo: Path, tmp_path: Path
) -> None:
    release(repo, "major", today=DAY)
    git(repo, "commit", "-qam", "Release 1.0.0")
    row_removed_silently(repo)
    refresh_integrity(repo)
    git(repo, "commit", "-qam", "a released row deleted by hand")
    full = tmp_path / "full"
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", f"file://{repo}", str(full))
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    copy = tmp_path / "copy"
    shutil.copytree(full, copy, ignore=shutil.ignore_patterns(".git"))
    assert "removed-without-retraction" in {f.code for f in validate(full).findings}
    for checkout in (shallow, copy):
        report = validate(checkout)
        assert [f.code for f in report.findings] == ["release-history-missing"], checkout.name
        assert report.valid and report.findings[0].file == "CHANGELOG.md"
        strict = uslatam("validate", "--require-history", str(checkout), cwd=checkout)
        assert strict.returncode == 1 and "release-history-required" in strict.stdout, strict.stdout
        refused = uslatam("release", "--dry-run", cwd=checkout)
        assert refused.returncode == 1 and "cannot find release 1.0.0" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("step", ["staged", "journaled", "moved-first", "moved-all"])
def test_a_crash_during_release_leaves_no_release_or_a_complete_one(repo: Path, step: str) -> None:
    killed = uslatam("release", "major", cwd=repo, env={"USLATAM_CRASH_AT": step})
    assert killed.returncode == 137
    assert uslatam("recover", cwd=repo).returncode == 0
    versions = _versions(repo)
    assert versions in (("0.1.0", "0.1.0", None), ("1.0.0", "1.0.0", "1.0.0"))
    assert versions[0] == ("0.1.0" if step == "staged" else "1.0.0")
    assert validate(repo).valid
    record("kill", command="release", step=step, outcome="before" if versions[0] == "0.1.0" else "after")


# --- citations -------------------------------------------------------------------------------


def test_cite_names_the_released_version_and_its_date(repo: Path) -> None:
    import rispy

    release(repo, "major", today=DAY)
    git(repo, "commit", "-qam", "Release 1.0.0")
    dataset, *sources = rispy.loads(render(citation(repo, "1.0.0"), "ris"))
    assert (dataset["edition"], dataset["date"], dataset["type_of_reference"]) == ("1.0.0", "2026/12/01", "DATA")
    assert [s["id"] for s in sources] == [SOURCE]
    assert render(citation(repo, "1.0.0"), "cff") == (repo / "CITATION.cff").read_text()
    cli = rispy.loads(uslatam("cite", "--format", "ris", "--version", "1.0.0", cwd=repo).stdout)
    assert cli[0]["edition"] == "1.0.0"
    assert uslatam("cite", "--version", "9.9.9", cwd=repo).returncode == 2
