"""The table cache and ``validate --since``: a report made with kept tables is the report a full run
makes, unchanged tables are not read, and a kept table that is broken, copied or forged is a miss."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from uslatam import cache
from uslatam.package import DEFAULT_LIMITS, Limits, load
from uslatam.schema import TableSpec
from uslatam.validate import structure, table_cache, validate

from .conftest import FIXTURES, ROOT, git_checkout
from .edits import KINDS, random_edit, unseen_edit

CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def _same(left, right) -> None:
    one, other = left.to_dict(), right.to_dict()
    for made_how in ("cached", "reused"):  # how the report was made; what it says is the same
        one.pop(made_how), other.pop(made_how)
    assert one == other


_SETTLED_DAYS = itertools.count(1_000_000_000, 86_400)  # from 2001-09-09


def _settle(root: Path) -> None:
    """Date every file of the package in the past (another day at every call): a file modified just before a run is
    not kept (``table_cache.RACY_NS``), as git does not trust a racily clean one."""
    # A day of its own at every call: git compares change times to the second, and a file changed in
    # the second git last recorded it, its modification time set back to the same day, would look
    # unchanged to it (git's blind spot; a test's two edits are often that close).
    settled = next(_SETTLED_DAYS)
    for path in root.rglob("*"):
        if ".git" not in path.parts and path.is_file() and not path.is_symlink():
            os.utime(path, (settled, settled))


def _entries(root: Path) -> list[str]:
    folder = root / ".uslatam" / "tables"
    return sorted(p.name for p in folder.glob("*.arrow")) if folder.is_dir() else []


@pytest.fixture
def tables_read(monkeypatch) -> list[str]:
    """The names of the tables read from their files (not taken from the table cache), in order."""
    read: list[str] = []
    original = structure.read

    def counting(resource, *args, **kwargs):
        read.append(resource.name)
        return original(resource, *args, **kwargs)

    monkeypatch.setattr(structure, "read", counting)
    return read


@pytest.fixture
def checkout(package_copy: Path) -> Path:
    """The real package's checkout, with this repository's line-end attributes committed (under
    ``text eol=lf`` git compares a CR LF file as LF: a change git does not report)."""
    shutil.copy(ROOT / ".gitattributes", package_copy / ".gitattributes")
    _git(package_copy, "add", "-A")
    _git(package_copy, "commit", "-qm", "line-end attributes")
    _settle(package_copy)
    return package_copy


# --- the same report as a full run -------------------------------------------------------------


@pytest.mark.parametrize("seed, against", [(1, None), (2, None), (3, None), (4, False), (4, None)])
def test_a_report_from_kept_tables_is_the_full_report_after_random_edits(checkout: Path, seed: int, against) -> None:
    """``against`` False: no release to compare with, so that the rules reading it are kept too."""
    rng = random.Random(seed)
    base = _git(checkout, "rev-parse", "HEAD").strip()
    validate(checkout, since=base, against=against)
    plan = [*KINDS, "unseen", "unseen", "commit"]  # every kind of edit, in a random order
    rng.shuffle(plan)
    for step, kind in enumerate(plan):
        if kind == "unseen":
            done = unseen_edit(checkout, rng)
        elif kind == "commit":
            _git(checkout, "add", "-A")
            _git(checkout, "commit", "-qm", f"step {step}", "--allow-empty")
            done = "commit"
        else:
            done = random_edit(checkout, rng, (kind,))
        if rng.random() < 0.7:
            _settle(checkout)  # else the edited file is racily clean: read, not kept
        since = validate(checkout, since=base, against=against)
        full = validate(checkout, cache=False, against=against)
        assert not full.cached and not since.cached
        _same(since, full), done
        _same(validate(checkout, since="HEAD", against=against), full), done  # other tables known by git
        if against is None:  # the whole-run cache keeps no run with a release given
            _same(validate(checkout, cache=None), full), done  # its misses use kept tables too


@pytest.mark.parametrize("case", CASES)
def test_every_fixture_reports_the_same_from_kept_tables(case: str, tmp_path: Path) -> None:
    package = git_checkout(shutil.copytree(FIXTURES / case, tmp_path / case, symlinks=True))
    _settle(package)
    full = validate(package, cache=False, against=False)
    if (package / ".uslatam").exists():  # git tracks what is there: nothing under it is trusted
        with pytest.raises(table_cache.SinceError, match="tracks"):
            validate(package, since="HEAD", against=False)
        return
    first = validate(package, since="HEAD", against=False)  # reads every table and keeps it
    again = validate(package, since="HEAD", against=False)  # takes every table it kept
    _same(first, full)
    _same(again, full)


@pytest.mark.parametrize("case", ["clean", "blank-row", "missing-cell", "csv-syntax-error", "invalid-date", "the real"])
@pytest.mark.parametrize("fast", [False, True], ids=["strict-reader", "pyarrow"])
def test_a_kept_table_is_the_table_read(case: str, fast: bool, tmp_path: Path) -> None:
    source = ROOT if case == "the real" else FIXTURES / case
    package, _ = load(source)
    kept = table_cache.TableCache(root=tmp_path, common="test", identities={}, trust_copied=False)
    for resource in package.resources:
        spec = TableSpec.from_schema(resource.name, resource.schema)
        typed, findings = structure.read(resource, spec, DEFAULT_LIMITS, fast=fast, parsed_by="pandera")
        if typed is None:
            continue
        entry = tmp_path / f"{resource.name}.arrow"
        table_cache._write_entry(entry, "k", typed, findings, [0, 0])
        restored = table_cache._read_entry(entry, "k", spec, resource.path, trust_copied=True)
        assert restored is not None, resource.name
        back, back_findings = restored
        assert back_findings == findings
        pd.testing.assert_frame_equal(back.frame, typed.frame, check_exact=True)
        pd.testing.assert_frame_equal(back.text, typed.text, check_exact=True)
        assert back.bad_cells.keys() == typed.bad_cells.keys()
        for name, bad in typed.bad_cells.items():
            assert back.bad_cells[name].to_numpy().tolist() == bad.to_numpy().tolist()
            assert back.bad_cells[name].index.equals(bad.index)
        assert (back.record_lines, back.blank_lines, back.padded_cells, back.plain_text) == (
            list(typed.record_lines),
            typed.blank_lines,
            typed.padded_cells,
            typed.plain_text,
        )
    assert kept.folder == tmp_path / ".uslatam" / "tables"


# --- only what changed is read ------------------------------------------------------------------


def test_since_reads_only_the_tables_that_changed(checkout: Path, tables_read: list[str]) -> None:
    validate(checkout, since="HEAD")
    assert len(tables_read) == len(load(checkout)[0].resources)  # nothing kept yet: every table read
    tables_read.clear()
    lines = (checkout / "data" / "entities.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (checkout / "data" / "entities.csv").write_text("".join(lines[:-1]), encoding="utf-8")
    report = validate(checkout, since="HEAD")
    assert tables_read == ["entities"]
    _same(report, validate(checkout, cache=False))


def test_since_runs_only_the_checks_that_read_what_changed(checkout: Path, monkeypatch) -> None:
    from uslatam.validate import _check_foreign_key, rules

    ran: list[tuple[str, str]] = []
    run_table, check_key = rules.run_table, _check_foreign_key

    def counting_rule(ctx, rule, typed):
        ran.append((rule.name, typed.spec.name))
        return run_table(ctx, rule, typed)

    def counting_key(ctx, typed, key, engine):
        ran.append((f"foreign key to {key.resource}", typed.spec.name))
        return check_key(ctx, typed, key, engine)

    monkeypatch.setattr(rules, "run_table", counting_rule)
    monkeypatch.setattr("uslatam.validate._check_foreign_key", counting_key)
    uncovered_calls: list[int] = []
    from uslatam.validate.rules import support

    original_uncovered = support.uncovered
    monkeypatch.setattr(support, "uncovered", lambda *a: uncovered_calls.append(1) or original_uncovered(*a))
    validate(checkout, since="HEAD")
    assert uncovered_calls  # the first run finds every source's units
    uncovered_calls.clear()
    everything = set(ran)
    path = checkout / "data" / "entities.csv"
    path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    ran.clear()
    report = validate(checkout, since="HEAD")
    by_name = {r.name: r for r in rules.RULES}
    expected = {
        (check, table)
        for check, table in everything
        if table == "entities"
        or check == "foreign key to entities"
        or (check in by_name and (not by_name[check].keepable or "entities" in by_name[check].needs))
        or (check in by_name and "baseline" in by_name[check].reads)  # the checkout has a release: no key
    }
    assert set(ran) == expected
    assert len(expected) < len(everything) / 2
    assert uncovered_calls == []  # no cited span changed: coverage's findings were kept, per source
    _same(report, validate(checkout, cache=False))


def test_a_table_git_does_not_vouch_for_is_read(checkout: Path, tables_read: list[str]) -> None:
    validate(checkout, since="HEAD")
    (checkout / "data" / "spans.csv").write_bytes(
        (checkout / "data" / "spans.csv").read_bytes().replace(b"\n", b"\r\n")
    )
    _settle(checkout)
    assert _git(checkout, "diff", "--name-only", "HEAD", "--", "data") == ""  # git's diff: nothing changed
    tables_read.clear()
    report = validate(checkout, since="HEAD")
    assert tables_read == ["spans"]  # its size is not the blob's: read, and its CR LF reported
    assert any(f.code == "line-ending-error" for f in report.findings) or not report.valid
    _same(report, validate(checkout, cache=False))


def test_a_file_git_may_check_out_as_other_bytes_is_hashed(checkout: Path) -> None:
    with open(checkout / ".gitattributes", "a", encoding="utf-8") as attributes:
        attributes.write("data/entities.csv working-tree-encoding=ISO-8859-1\n")
    package, _ = load(checkout)
    identities = table_cache._identities_since(checkout, "HEAD", package.resources, DEFAULT_LIMITS.max_file_bytes)
    assert identities["data/entities.csv"].content.startswith("sha256:")
    assert identities["data/events.csv"].content.startswith("git:")


# --- trust: copied, forged and broken entries ---------------------------------------------------


def test_entries_written_elsewhere_are_read_only_with_since(checkout: Path, tmp_path: Path, tables_read) -> None:
    validate(checkout, since="HEAD")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(checkout), str(clone))
    shutil.copytree(checkout / ".uslatam" / "tables", clone / ".uslatam" / "tables")  # as CI hands it over
    _settle(clone)
    tables_read.clear()
    _same(validate(clone, since="HEAD"), validate(clone, cache=False))
    assert tables_read == list(dict.fromkeys(tables_read))  # (each read once, by the full run)
    restored_run = len(tables_read) - len(load(clone)[0].resources)
    assert restored_run == 0  # the --since run read none: every table came from the copied entries


def test_entries_written_elsewhere_are_misses_without_since(checkout: Path, tmp_path: Path, tables_read) -> None:
    validate(checkout, cache=None)
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(checkout), str(clone))
    shutil.copytree(checkout / ".uslatam" / "tables", clone / ".uslatam" / "tables")
    _settle(clone)
    tables_read.clear()
    validate(clone, cache=None)
    assert len(tables_read) == len(load(clone)[0].resources)  # copied in: not an entry this cache wrote


@pytest.mark.parametrize(
    "damage",
    ["empty", "garbage", "truncated", "other key", "symlink", "folder symlink"],
)
def test_a_broken_entry_is_a_miss(checkout: Path, tmp_path: Path, damage: str, tables_read) -> None:
    validate(checkout, since="HEAD")
    folder = checkout / ".uslatam" / "tables"
    entries = sorted(folder.glob("*.arrow"))
    for entry in entries:
        data = entry.read_bytes()
        if damage == "empty":
            entry.write_bytes(b"")
        elif damage == "garbage":
            entry.write_bytes(os.urandom(len(data)))
        elif damage == "truncated":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "other key":  # an entry of another table, under this table's name
            other = entries[(entries.index(entry) + 1) % len(entries)]
            entry.write_bytes(other.read_bytes() if other != entry else b"")
        elif damage == "symlink":
            moved = tmp_path / entry.name
            entry.replace(moved)
            entry.symlink_to(moved)
    if damage == "folder symlink":
        moved = tmp_path / "tables"
        folder.replace(moved)
        folder.symlink_to(moved)
    tables_read.clear()
    report = validate(checkout, since="HEAD")
    assert len(tables_read) == len(entries)  # every table read afresh
    _same(report, validate(checkout, cache=False))


def test_every_gathering_is_kept_and_taken_the_next_time(checkout: Path, monkeypatch) -> None:
    """A gathering that could not be written would run every time, silently: none may be."""
    from uslatam.validate import rules

    kept: list[bool] = []
    keep = table_cache.TableCache.keep_gathered
    monkeypatch.setattr(table_cache.TableCache, "keep_gathered", lambda *a: kept.append(keep(*a)) or kept[-1])
    ran: list[str] = []
    run_table = rules.run_table
    monkeypatch.setattr(
        rules, "run_table", lambda ctx, rule, typed: ran.append(rule.name) or run_table(ctx, rule, typed)
    )
    gathering = {r.name for r in rules.RULES if r.keepable and r.writes}
    validate(checkout, since="HEAD")
    assert set(ran) >= gathering and kept and all(kept)
    ran.clear()
    report = validate(checkout, since="HEAD")
    assert not set(ran) & gathering
    _same(report, validate(checkout, cache=False))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other key", "symlink"])
def test_a_broken_gathering_is_a_miss(checkout: Path, tmp_path: Path, damage: str, monkeypatch) -> None:
    from uslatam.validate import rules

    validate(checkout, since="HEAD")
    entries = sorted((checkout / ".uslatam" / "tables").glob(f"*{table_cache.GATHERED_SUFFIX}"))
    assert entries
    for entry in entries:
        data = entry.read_bytes()
        if damage == "garbage":
            entry.write_bytes(os.urandom(len(data)))
        elif damage == "truncated":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "other key":  # another rule's or table's gathering, under this one's name
            entry.write_bytes(entries[(entries.index(entry) + 1) % len(entries)].read_bytes())
        elif damage == "symlink":
            moved = tmp_path / entry.name
            entry.replace(moved)
            entry.symlink_to(moved)
    ran: list[str] = []
    run_table = rules.run_table
    monkeypatch.setattr(
        rules, "run_table", lambda ctx, rule, typed: ran.append(rule.name) or run_table(ctx, rule, typed)
    )
    report = validate(checkout, since="HEAD")
    gathering = {r.name for r in rules.RULES if r.keepable and r.writes}
    assert set(ran) >= gathering  # every gathering made again
    _same(report, validate(checkout, cache=False))


def _rewrite_metadata(entry: Path, change) -> None:
    """Rewrite an entry's metadata in its own file (the inode it names stays): trusted, but not its kind."""
    import pyarrow as pa

    with pa.ipc.open_file(pa.OSFile(str(entry))) as reader:
        table = reader.read_all()
    metadata = json.loads(table.schema.metadata[b"uslatam.table"])
    change(metadata)
    table = table.replace_schema_metadata({**table.schema.metadata, b"uslatam.table": json.dumps(metadata)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    with open(entry, "r+b") as stream:
        stream.truncate(0)
        stream.write(sink.getvalue().to_pybytes())


@pytest.mark.parametrize("kind", ["table", "gathering"])
def test_a_trusted_entry_holding_what_no_run_writes_is_a_miss(
    checkout: Path, kind: str, tables_read, monkeypatch
) -> None:
    from uslatam.validate import rules

    validate(checkout, since="HEAD")
    folder = checkout / ".uslatam" / "tables"
    if kind == "table":
        entries = sorted(folder.glob("*.arrow"))
        for entry in entries:
            _rewrite_metadata(entry, lambda m: m.update(blank_lines=["x"], padded_cells=[[None, 1]]))
    else:
        entries = sorted(folder.glob(f"*{table_cache.GATHERED_SUFFIX}"))
        for entry in entries:  # what every rule would replace, not add to
            _rewrite_metadata(entry, lambda m: m.update(shape={"dict": [["keys", {"list": [1]}]]}))
    ran: list[str] = []
    run_table = rules.run_table
    monkeypatch.setattr(
        rules, "run_table", lambda ctx, rule, typed: ran.append(rule.name) or run_table(ctx, rule, typed)
    )
    tables_read.clear()
    report = validate(checkout, since="HEAD")
    if kind == "table":
        assert len(tables_read) == len(entries)
    else:
        assert "gather_keys" in ran
    _same(report, validate(checkout, cache=False))


def test_a_disk_that_refuses_writes_leaves_the_report_as_it_is(checkout: Path, monkeypatch) -> None:
    def refusing(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(table_cache, "_write_entry", refusing)
    _same(validate(checkout, since="HEAD"), validate(checkout, cache=False))
    assert _entries(checkout) == []


def test_a_read_only_file_system_leaves_the_report_as_it_is(checkout: Path, monkeypatch) -> None:
    import errno
    from contextlib import contextmanager

    @contextmanager
    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))
        yield path

    monkeypatch.setattr(table_cache, "replacing", read_only)
    _same(validate(checkout, since="HEAD"), validate(checkout, cache=False))
    assert _entries(checkout) == []


def test_a_table_changed_while_it_was_read_is_not_kept(checkout: Path, monkeypatch) -> None:
    original = table_cache._stamp
    calls = {"n": 0}

    def changing(path):
        calls["n"] += 1
        return original(path) if calls["n"] <= len(load(checkout)[0].resources) else "changed"

    monkeypatch.setattr(table_cache, "_stamp", changing)
    validate(checkout, since="HEAD")
    assert _entries(checkout) == []


def test_only_the_newest_entries_of_a_table_are_kept(checkout: Path) -> None:
    tables = len(load(checkout)[0].resources)
    path = checkout / "data" / "entities.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for cut in range(1, 5):
        path.write_text("".join(lines[:-cut]), encoding="utf-8")
        _settle(checkout)
        validate(checkout, since="HEAD")
    entities = {n.split("-", 1)[0] for n in _entries(checkout)}
    assert len(entities) == tables
    assert len(_entries(checkout)) == tables - 1 + table_cache.KEPT_PER_TABLE


def test_other_options_are_other_entries(checkout: Path, tables_read) -> None:
    validate(checkout, since="HEAD")
    tables_read.clear()
    small = Limits(max_file_bytes=60_000)
    report = validate(checkout, since="HEAD", limits=small)
    assert tables_read  # another limit: no entry fits
    _same(report, validate(checkout, cache=False, limits=small))
    _same(validate(checkout, since="HEAD", engines=("vectorised",)), validate(checkout, engines=("vectorised",)))


# --- what --since refuses ------------------------------------------------------------------------


def test_since_names_a_revision_git_knows(checkout: Path) -> None:
    with pytest.raises(table_cache.SinceError, match="no commit 'no-such-branch'"):
        validate(checkout, since="no-such-branch")
    with pytest.raises(table_cache.SinceError, match="no commit"):
        validate(checkout, since="--output=/tmp/x")  # an option is never handed to git as one


def test_since_outside_a_trusted_work_tree_is_refused(checkout: Path, tmp_path: Path) -> None:
    plain = shutil.copytree(checkout, tmp_path / "plain", ignore=shutil.ignore_patterns(".git"))
    with pytest.raises(table_cache.SinceError, match="not in a git work tree"):
        validate(plain, since="HEAD")
    (checkout / ".uslatam").mkdir(exist_ok=True)
    (checkout / ".uslatam" / "forged").write_text("x", encoding="utf-8")
    _git(checkout, "add", "-f", ".uslatam/forged")
    with pytest.raises(table_cache.SinceError, match="tracks"):
        validate(checkout, since="HEAD")


def test_the_command_says_what_since_cannot_do(checkout: Path) -> None:
    command = [str(Path(os.sys.executable).parent / "uslatam"), "validate", "--package", str(checkout)]
    for extra, said in (
        (["--since", "nope"], "git knows no commit 'nope'"),
        (["--since", "HEAD", "--no-cache"], "drop --no-cache"),
    ):
        done = subprocess.run([*command, *extra], capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert said in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([*command, "--since", "HEAD", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _entries(checkout)
    tables = len(load(checkout)[0].resources)
    again = subprocess.run([*command, "--since", "HEAD"], capture_output=True, text=True)
    assert f"({tables} of {tables} tables taken from .uslatam/tables/" in again.stdout.splitlines()[1]
    as_json = subprocess.run([*command, "--since", "HEAD", "--format", "json"], capture_output=True, text=True)
    assert len(json.loads(as_json.stdout)["reused"]) == tables


def test_the_whole_run_key_leaves_kept_tables_out(checkout: Path) -> None:
    validate(checkout, cache=None)
    assert _entries(checkout)
    assert validate(checkout, cache=None).cached  # writing table entries did not change the whole-run key
    assert not any(
        p.startswith(".uslatam/tables") for p in cache.open_store(checkout, {}, max_file_bytes=10**9).covered
    )


@pytest.mark.parametrize("change", ["schema", "declared hash"])
def test_a_table_whose_schema_or_resource_changed_is_read_again(checkout: Path, change: str, tables_read) -> None:
    validate(checkout, since="HEAD")
    if change == "schema":
        path = checkout / "schemas" / "entities.json"
        schema = json.loads(path.read_text(encoding="utf-8"))
        schema["fields"][0].setdefault("constraints", {})["maxLength"] = 3
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    else:
        path = checkout / "datapackage.json"
        descriptor = json.loads(path.read_text(encoding="utf-8"))
        resource = next(r for r in descriptor["resources"] if r["name"] == "entities")
        resource["hash"] = "sha256:" + "0" * 64
        path.write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
    tables_read.clear()
    report = validate(checkout, since="HEAD")
    assert tables_read == ["entities"]
    full = validate(checkout, cache=False)
    assert not full.valid
    _same(report, full)


def test_the_workflow_validates_a_pull_request_since_its_base_from_mains_kept_tables() -> None:
    """Pull requests take the tables main's push run kept, as its artifact: never a cache, which a pull
    request's own runs could have written."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "validate.yml").read_text(encoding="utf-8"))
    assert workflow["permissions"]["actions"] == "read"
    steps = workflow["jobs"]["validate"]["steps"]
    assert not any("actions/cache" in s.get("uses", "") for s in steps)
    on_pull_requests = [s for s in steps if s.get("if") == "github.event_name == 'pull_request'"]
    on_main = [s for s in steps if s.get("if") == "github.event_name != 'pull_request'"]
    fetch = next(s for s in on_pull_requests if "gh run download" in s.get("run", ""))
    assert "--branch main --event push" in fetch["run"] and '--commit "$BASE"' in fetch["run"]
    assert "--dir .uslatam/tables" in fetch["run"]
    validating = next(s for s in on_pull_requests if "uslatam validate" in s.get("run", ""))
    assert on_pull_requests.index(validating) > on_pull_requests.index(fetch)
    assert '--since "$BASE"' in validating["run"] and "--no-cache" not in validating["run"]
    assert fetch["env"]["BASE"] == validating["env"]["BASE"] == "${{ github.event.pull_request.base.sha }}"
    full = [s["run"] for s in on_main if "uslatam validate" in s.get("run", "")]
    assert any("--no-cache" in run and "--engine both" in run for run in full)  # main: validated in full
    keeping = next(s for s in on_main if "--since HEAD" in s.get("run", ""))
    upload = next(s for s in on_main if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert on_main.index(upload) > on_main.index(keeping)
    assert upload["with"]["path"] == ".uslatam/tables" and upload["with"]["include-hidden-files"] is True
    assert f"--name {upload['with']['name']} " in fetch["run"]


# --- what git cannot vouch for, and what came from elsewhere -----------------------------------


def test_a_file_modified_just_before_the_run_is_not_kept(checkout: Path, tables_read) -> None:
    path = checkout / "data" / "entities.csv"
    path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    validate(checkout, since="HEAD")
    assert len(_entries(checkout)) == len(load(checkout)[0].resources) - 1  # all but the racily clean one
    tables_read.clear()
    validate(checkout, since="HEAD")
    assert tables_read == ["entities"]
    _settle(checkout)
    validate(checkout, since="HEAD")
    tables_read.clear()
    _same(validate(checkout, since="HEAD"), validate(checkout, cache=False))
    assert tables_read.count("entities") == 1  # the full run's: settled, it was kept


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_file_git_is_told_not_to_look_at_is_hashed(checkout: Path, flag: str, tables_read) -> None:
    validate(checkout, since="HEAD")
    path = checkout / "data" / "entities.csv"
    _git(checkout, "update-index", flag, "data/entities.csv")
    data = bytearray(path.read_bytes())
    at = data.index(b",Colombia,") + 1
    data[at : at + 8] = b"Colombie"  # the same size: git, not looking, would call it unchanged
    path.write_bytes(bytes(data))
    _settle(checkout)
    assert _git(checkout, "diff", "--name-only", "HEAD") == ""
    tables_read.clear()
    report = validate(checkout, since="HEAD")
    assert tables_read == ["entities"]
    _same(report, validate(checkout, cache=False))


def test_paths_are_given_to_git_as_written(checkout: Path) -> None:
    odd = checkout / ":(exclude)odd.csv"
    odd.write_text("a\n1\n", encoding="utf-8")
    _git(checkout, "add", "-A")
    _git(checkout, "commit", "-qm", "a file whose name git could read as a pathspec")
    head = _git(checkout, "rev-parse", "HEAD").strip()
    assert set(table_cache._blobs(checkout, head, [":(exclude)odd.csv", "data/entities.csv"])) == {
        ":(exclude)odd.csv",
        "data/entities.csv",
    }


def test_a_changed_table_is_never_taken_from_elsewhere(checkout: Path, tmp_path: Path, tables_read) -> None:
    """Entries handed over by CI count only for tables git vouches for: a pull request cannot bring a
    kept table for the bytes it changed, nor coverage's findings."""
    path = checkout / "data" / "entities.csv"
    shortened = "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:-1])
    path.write_text(shortened, encoding="utf-8")
    _settle(checkout)
    validate(checkout, since="HEAD")  # keeps the changed entities by its SHA-256
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(checkout), str(clone))
    shutil.copytree(checkout / ".uslatam" / "tables", clone / ".uslatam" / "tables")
    (clone / "data" / "entities.csv").write_text(shortened, encoding="utf-8")
    _settle(clone)
    copied = json.loads((clone / ".uslatam" / "tables" / "results.json").read_text(encoding="utf-8"))["results"]
    tables_read.clear()
    report = validate(clone, since="HEAD")
    assert tables_read == ["entities"]
    _same(report, validate(clone, cache=False))
    made = json.loads((clone / ".uslatam" / "tables" / "results.json").read_text(encoding="utf-8"))["results"]
    assert len(made) < len(copied)  # what was taken from elsewhere is not kept again as this run's own
    _same(validate(clone, cache=None), validate(clone, cache=False))


def test_two_resources_of_one_name_are_never_kept(checkout: Path, tables_read) -> None:
    descriptor_path = checkout / "datapackage.json"
    descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    twin = dict(next(r for r in descriptor["resources"] if r["name"] == "entities"))
    shutil.copy(checkout / "data" / "entities.csv", checkout / "data" / "twin.csv")
    with open(checkout / "data" / "twin.csv", "a", encoding="utf-8") as rows:
        rows.write("not,a,row\n")
    twin["path"] = "data/twin.csv"
    twin.pop("bytes", None), twin.pop("hash", None)
    descriptor["resources"].append(twin)
    descriptor_path.write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
    _settle(checkout)
    validate(checkout, since="HEAD")
    tables_read.clear()
    report = validate(checkout, since="HEAD")
    assert tables_read.count("entities") == 2  # both read, every time
    _same(report, validate(checkout, cache=False))
