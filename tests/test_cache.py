"""The validation cache: a report from it is the report a full run makes, and a forged or broken one is never used."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from uslatam import cache
from uslatam.package import DEFAULT_LIMITS, Limits, copy_package
from uslatam.validate import _cache_store, validate

from .conftest import ROOT
from .edits import random_edit, table_lines


def _same(left, right) -> None:
    one, other = left.to_dict(), right.to_dict()
    for made_how in ("cached", "reused"):  # how the report was made; what it says is the same
        one.pop(made_how), other.pop(made_how)
    assert one == other


def _store(root: Path, wanted: bool | None = None) -> cache.Store:
    """The store the command's run (``cache=None``) uses."""
    store = _cache_store(root, DEFAULT_LIMITS, None, None, False, wanted)
    assert store is not None
    return store


def _forge(store: cache.Store, written_to: list[int] | None = None) -> None:
    """An entry that says the package has no findings at all (naming its own inode, unless told)."""
    store.folder.mkdir(parents=True, exist_ok=True)
    report = {"fatal": False, "tables": {}, "engines": ["pandera"], "findings": []}
    entry = store.entry()
    entry.write_text("")
    if written_to is None:
        info = entry.stat()
        written_to = [info.st_dev, info.st_ino]
    entry.write_text(json.dumps({"format": cache.FORMAT, "key": store.key, "written_to": written_to, "report": report}))


def _break_a_row(root: Path) -> None:
    table = root / "data" / "entities.csv"
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    table.write_text(lines[0] + lines[1] + lines[1] + "".join(lines[2:]), encoding="utf-8")  # a repeated key


def test_a_second_run_is_served_from_the_cache(package_copy: Path) -> None:
    first = validate(package_copy, cache=None)
    second = validate(package_copy, cache=None)
    assert (first.cached, second.cached) == (False, True)
    _same(first, second)
    assert second.package == str(package_copy)


def test_no_cache_always_runs_and_stores_nothing(package_copy: Path) -> None:
    validate(package_copy, cache=False)
    validate(package_copy)  # the library's default: a call writes nothing
    assert not (package_copy / ".uslatam" / "cache").exists()
    validate(package_copy, cache=None)
    assert validate(package_copy, cache=None).cached  # an entry is there now
    assert validate(package_copy, cache=False).cached is False  # and is not read
    assert validate(package_copy).cached is False


@pytest.mark.parametrize(
    "options",
    [
        {"engines": ("vectorised",)},
        {"engines": ("frictionless", "pandera")},
        {"limits": Limits(max_file_bytes=5_000)},
        {"require_history": True},
    ],
    ids=["engine", "engines-both", "file-limit", "require-history"],
)
def test_other_options_are_another_key(package_copy: Path, options: dict) -> None:
    validate(package_copy, cache=None)
    other = validate(package_copy, cache=None, **options)
    assert not other.cached
    _same(other, validate(package_copy, cache=False, **options))


def test_what_git_hands_back_for_the_release_is_in_the_key(package_copy: Path) -> None:
    """`git replace` changes what the release's commit reads as, its name unchanged."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(package_copy), *args], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    validate(package_copy, cache=None)
    assert validate(package_copy, cache=None).cached
    release = git("rev-parse", "HEAD")
    (package_copy / "data" / "entities.csv").write_text(table_lines(package_copy, "entities")[0], encoding="utf-8")
    git("add", "-A")
    fake = git("commit-tree", git("write-tree"), "-m", "the package as released")
    git("checkout", "-q", "--", ".")  # the work tree as it was; only the history now differs
    git("reset", "-q", "--hard", release)
    git("replace", release, fake)
    replaced = validate(package_copy, cache=None)
    assert not replaced.cached
    _same(replaced, validate(package_copy, cache=False))


def test_a_file_above_the_file_limit_is_never_read_for_a_key(package_copy: Path) -> None:
    limits = Limits(max_file_bytes=5_000)  # smaller than some tables: validation refuses them unread
    validate(package_copy, cache=None, limits=limits)
    assert not validate(package_copy, cache=None, limits=limits).cached
    assert not (package_copy / ".uslatam" / "cache").exists()


def test_the_cache_folder_ignores_itself(package_copy: Path) -> None:
    validate(package_copy, cache=None)
    status = subprocess.run(
        ["git", "-C", str(package_copy), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ".uslatam" not in status.stdout


# --- identical to a full run, over random edits ------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_cached_report_is_the_full_report_after_random_edits(package_copy: Path, seed: int) -> None:
    rng = random.Random(seed)
    validate(package_copy, cache=None)
    for _ in range(6):
        done = random_edit(package_copy, rng)
        incremental = validate(package_copy, cache=None)
        full = validate(package_copy, cache=False)
        assert not full.cached
        _same(incremental, full)
        again = validate(package_copy, cache=None)
        if not any(p.is_symlink() for p in (package_copy / "data").iterdir()):
            assert again.cached, done  # a run that reads through a symlink is never stored
        _same(again, full)


def test_a_change_back_is_served_from_the_cache(package_copy: Path) -> None:
    clean = validate(package_copy, cache=None)
    _break_a_row(package_copy)
    broken = validate(package_copy, cache=None)
    assert not broken.valid and not broken.cached
    subprocess.run(["git", "-C", str(package_copy), "checkout", "-q", "--", "."], check=True)
    back = validate(package_copy, cache=None)
    assert back.cached
    _same(back, clean)


# --- a forged, tracked or broken cache is never used --------------------------------------------


@pytest.mark.parametrize("state", [".uslatam", ".USLATAM"])
def test_a_cache_git_tracks_is_never_used(package_copy: Path, state: str) -> None:
    _break_a_row(package_copy)
    _forge(_store(package_copy, wanted=True))
    (package_copy / state).mkdir(exist_ok=True)
    (package_copy / state / "anything").write_text("tracked")  # a case-insensitive disk reads it as .uslatam/
    subprocess.run(["git", "-C", str(package_copy), "add", "-f", state], check=True)
    assert not cache.allowed(package_copy, None)
    report = validate(package_copy, cache=None)
    assert not report.cached and not report.valid


def test_outside_git_the_cache_is_off_unless_asked_for(package_copy: Path) -> None:
    subprocess.run(["rm", "-rf", str(package_copy / ".git")], check=True)
    assert not cache.allowed(package_copy, None)
    validate(package_copy, cache=None)
    assert not (package_copy / ".uslatam").exists()
    validate(package_copy, cache=True)
    assert validate(package_copy, cache=True).cached  # asked for: the folder is the user's own


def test_a_package_git_does_not_track_is_not_cached(package_copy: Path) -> None:
    """An archive unpacked into a work tree: its descriptor is untracked, or not at the top."""
    inner = copy_package(package_copy, package_copy / "downloaded")
    assert not cache.allowed(inner, None)
    subprocess.run(["git", "-C", str(package_copy), "add", "-A"], check=True)
    assert not cache.allowed(inner, None)  # tracked, but not the top of the work tree


def test_an_entry_copied_in_is_a_miss(package_copy: Path, tmp_path: Path) -> None:
    """A forged entry naming any other file (an archive's, a copy's) is refused, even where the cache is allowed."""
    _break_a_row(package_copy)
    _forge(_store(package_copy), written_to=[1, 2])
    assert not validate(package_copy, cache=None).cached
    _forge(_store(package_copy))
    assert validate(package_copy, cache=None).cached  # the same entry, written here: what the check accepts
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(package_copy), str(copy)], check=True)
    assert not validate(copy, cache=None).cached


def test_a_file_changed_during_the_run_leaves_it_unstored(package_copy: Path) -> None:
    table = package_copy / "data" / "entities.csv"
    original = table.read_bytes()

    def saved_mid_run(progress) -> None:
        if progress.tables_done == 1:
            table.write_bytes(original + b"")  # an editor saving the same bytes: a new time
            os.utime(table, ns=(1, 1))

    validate(package_copy, cache=None, progress=saved_mid_run)
    assert not validate(package_copy, cache=None).cached
    assert validate(package_copy, cache=None).cached


def test_a_relative_path_is_cached_like_an_absolute_one(package_copy: Path, monkeypatch) -> None:
    monkeypatch.chdir(package_copy.parent)
    validate(package_copy.name, cache=None)
    assert validate(package_copy.name, cache=None).cached
    monkeypatch.chdir(package_copy / "data")
    assert validate("..", cache=None).cached


def test_a_folder_without_a_descriptor_gets_no_cache(tmp_path: Path) -> None:
    report = validate(tmp_path, cache=True)
    assert report.fatal and not (tmp_path / ".uslatam").exists()


@pytest.mark.parametrize(
    "entry",
    [
        b'{"format": 1, "key": "KEY", "written_to": WRITTEN, "report": {"fatal": false, "tables": {}, "engines": [], '
        b'"findings": [], "extra": 1}, "extra": 1}',
        b'{"format": 1, "key": "KEY", "written_to": WRITTEN, "report": {"fatal": "no", "tables": {}, "engines": [], '
        b'"findings": []}}',
        b'{"format": 1, "key": "KEY", "written_to": WRITTEN, "report": {"fatal": false, "tables": {}, "engines": [1], '
        b'"findings": []}}',
        b'{"format": 1, "key": "KEY", "written_to": WRITTEN, "report": {"fatal": false, "tables": {}, "engines": [], '
        b'"findings": [{"code": "foreign-key", "message": "m", "table": null, "file": null, "line": "1", '
        b'"column": null, "value": null, "expected": null, "found_by": []}]}}',
        b"not json",
        b"[]",
        b'{"format": 1, "key": "another", "report": {}}',
        b'{"format": 1, "key": "KEY", "report": {"fatal": false, "tables": {}, "engines": [], "findings": [{}]}}',
        b'{"format": 1, "key": "KEY", "report": {"fatal": false, "tables": {"a": "1"}, "engines": [], "findings": []}}',
        b'{"format": 1, "key": "KEY", "report": {"fatal": false, "tables": {}, "engines": [], "findings": '
        b'[{"code": "no-such-code", "message": "m", "table": null, "file": null, "line": null, "column": null, '
        b'"value": null, "expected": null, "found_by": []}]}}',
        b"[" * 100_000,
    ],
)
def test_a_malformed_entry_is_a_miss(package_copy: Path, entry: bytes) -> None:
    _break_a_row(package_copy)
    store = _store(package_copy)
    store.folder.mkdir(parents=True)
    store.entry().write_bytes(b"")
    info = store.entry().stat()
    written = f"[{info.st_dev}, {info.st_ino}]".encode()
    entry = entry.replace(b"KEY", store.key.encode()).replace(b"WRITTEN", written).replace(b'"written_to": []', b"")
    store.entry().write_bytes(entry.replace(b'"key": "KEY"', b""))
    report = validate(package_copy, cache=None)
    assert not report.cached and not report.valid


def test_a_well_formed_entry_of_this_file_is_read() -> None:
    """The malformed entries above differ from this one only where they say: it is what they break."""
    stored = {"fatal": False, "tables": {"t": 1}, "engines": ["pandera"], "findings": []}
    finding = {f: None for f in ("table", "file", "line", "column", "value", "expected")}
    stored["findings"] = [{**finding, "code": "foreign-key", "message": "m", "line": 3, "found_by": ["pandera"]}]
    report = cache._report(stored, "p")
    assert report is not None and report.cached and report.findings[0].line == 3
    assert cache._report({**stored, "fatal": "no"}, "p") is None


def test_an_entry_symlinked_to_a_real_entry_elsewhere_is_a_miss(package_copy: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    subprocess.run(["cp", "-a", str(package_copy), str(twin)], check=True)  # the same files: the same key
    validate(twin, cache=True)
    entry = _store(twin, wanted=True).entry()
    store = _store(package_copy)
    assert store.entry().name == entry.name
    store.folder.mkdir(parents=True)
    store.entry().symlink_to(entry)
    assert not validate(package_copy, cache=None).cached


def test_git_variables_cannot_vouch_for_a_folder_outside_git(package_copy: Path, tmp_path: Path, monkeypatch) -> None:
    outside = copy_package(package_copy, tmp_path / "outside")
    monkeypatch.setenv("GIT_DIR", str(package_copy / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(outside))
    assert not cache.allowed(outside, None)


def test_a_symlinked_entry_or_folder_is_a_miss(package_copy: Path, tmp_path: Path) -> None:
    _break_a_row(package_copy)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store = _store(package_copy)
    _forge(cache.Store(root=elsewhere, key=store.key, covered=store.covered, stamps=store.stamps))
    (package_copy / ".uslatam").mkdir()
    (package_copy / ".uslatam" / "cache").symlink_to(elsewhere / ".uslatam" / "cache")
    report = validate(package_copy, cache=None)
    assert not report.cached and not report.valid
    assert sorted(os.listdir(elsewhere / ".uslatam" / "cache")) == [store.entry().name]  # nothing written there
    (package_copy / ".uslatam" / "cache").unlink()
    _forge(store)
    (package_copy / "elsewhere.json").write_bytes(store.entry().read_bytes())
    store.entry().unlink()
    store.entry().symlink_to(package_copy / "elsewhere.json")
    assert not validate(package_copy, cache=None).cached


def test_a_disk_that_refuses_writes_leaves_the_report_as_it_is(package_copy: Path, monkeypatch) -> None:
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.os, "replace", full)
    report = validate(package_copy, cache=None)
    assert report.valid and not report.cached
    left = [p.name for p in (package_copy / ".uslatam" / "cache").iterdir()]
    assert left == [".gitignore"]  # no temporary left behind


def test_a_run_that_opens_a_file_the_key_holds_only_by_its_time_is_not_stored(package_copy: Path) -> None:
    store = _store(package_copy)
    assert cache.covers(store, {str(package_copy / "data" / "entities.csv"), "/etc/hostname"})
    assert not cache.covers(store, {str(package_copy / "README.md")})


def test_only_the_newest_entries_are_kept(package_copy: Path) -> None:
    folder = package_copy / ".uslatam" / "cache"
    folder.mkdir(parents=True)
    for number in range(cache.KEPT_ENTRIES + 3):
        entry = folder / f"validate-{number:064d}.json"
        entry.write_text("{}")
        os.utime(entry, ns=(number * 10**9, number * 10**9))
    cache._prune(folder)
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == [f"validate-{n:064d}.json" for n in range(3, cache.KEPT_ENTRIES + 3)]


@pytest.mark.parametrize("engines", [("pandera",), ("vectorised",), ("frictionless", "pandera")])
def test_the_key_covers_every_file_a_validation_opens(engines: tuple[str, ...]) -> None:
    """Whatever a layer reads, the key holds it by its content: else the cache would be stale."""
    from uslatam.boundary import recording_opens

    store = _store(ROOT, wanted=True)
    with recording_opens() as opened:
        validate(ROOT, engines=engines)
    assert any(p.endswith("datapackage.json") for p in opened)
    assert cache.covers(store, opened)


def test_a_hidden_folder_is_in_the_key_as_listings_count_it(package_copy: Path) -> None:
    """The inventory stops after MAX_LISTED entries of a folder, hidden ones counted: one more
    hidden folder can hide an undeclared file, so its coming and going is a change."""
    from uslatam.validate.inventory import MAX_LISTED

    data = package_copy / "data"
    fillers = MAX_LISTED - len(list(data.iterdir())) - 1
    for number in range(fillers):
        (data / f"filler{number:05d}.txt").touch()
    (data / "zzz.csv").write_text("a\n1\n", encoding="utf-8")  # sorted last: the entry the limit reaches
    (data / ".hidden").mkdir()
    assert validate(package_copy, cache=None).valid  # zzz.csv is beyond the limit
    (data / ".hidden").rmdir()
    uncovered = validate(package_copy, cache=None)
    assert not uncovered.cached and "undeclared-file" in uncovered.counts()


def test_a_symlink_is_keyed_by_where_it_ends(package_copy: Path, tmp_path: Path) -> None:
    """A link through a link outside: retargeting the outer one changes nothing in the package."""
    table = package_copy / "data" / "entities.csv"
    inside = package_copy / "kept" / "entities.csv"
    inside.parent.mkdir()
    table.replace(inside)
    outer = tmp_path / "outer"
    outer.symlink_to(tmp_path)  # first it ends outside the package
    table.symlink_to(outer / "missing.csv")
    first = validate(package_copy, cache=None)
    outer.unlink()
    outer.symlink_to(inside.parent)  # now it ends inside, at the table
    second = validate(package_copy, cache=None)
    assert not second.cached
    _same(second, validate(package_copy, cache=False))
    assert first.to_dict()["counts"] != second.to_dict()["counts"]


def test_a_key_that_cannot_be_made_is_a_full_run(package_copy: Path, monkeypatch) -> None:
    def unreadable(path: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cache, "_own_code", unreadable)
    report = validate(package_copy, cache=None)
    assert report.valid and not report.cached
    assert not (package_copy / ".uslatam").exists()
