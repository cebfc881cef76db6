"""The trust boundary: regular files only, bounded reads, no network, linear-time patterns, faults as messages."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from uslatam.boundary import (
    NetworkRefused,
    Refused,
    decode,
    load_yaml,
    nesting_depth,
    offline,
    package_bytes,
    read_bytes,
    remote_references,
    without_remote_references,
)
from uslatam.package import refresh_integrity
from uslatam.patterns import compile_linear, refusal
from uslatam.release import ReleaseError, release
from uslatam.validate import validate

from .conftest import FIXTURES, ROOT, uslatam
from .test_add import snapshot

# --- regular files, limits, decoding ------------------------------------------------------------


def test_a_fifo_is_refused_at_once_without_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "text.txt")
    started = time.process_time()
    with pytest.raises(Refused) as refused:
        read_bytes(tmp_path / "text.txt", name="sources/text.txt", limit=100)
    assert refused.value.finding.code == "not-a-regular-file"
    assert "FIFO" in refused.value.finding.message and refused.value.finding.file == "sources/text.txt"
    assert time.process_time() - started < 1.0


def test_a_folder_a_missing_file_and_an_oversized_file_are_findings(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 101)
    codes = {}
    for name in ("", "missing.txt", "big.txt"):
        with pytest.raises(Refused) as refused:
            read_bytes(tmp_path / name, name=name or "folder", limit=100)
        codes[name] = refused.value.finding.code
    assert codes == {"": "not-a-regular-file", "missing.txt": "missing-file", "big.txt": "file-too-large"}


def test_permission_denied_is_a_fault_naming_the_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "data.csv").write_text("a\n")
    real_open = os.open

    def denied(path, flags, *args):
        if str(path).endswith("data.csv"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(PermissionError) as fault:  # a fault, not a property of the data: it goes up to the command
        read_bytes(tmp_path / "data.csv", name="data/data.csv", limit=100)
    assert fault.value.filename.endswith("data.csv")


@pytest.mark.parametrize("relpath", ["../x", "/etc/passwd", "https://example.org/x", "data/../x", ".git/config"])
def test_package_paths_are_contained(tmp_path: Path, relpath: str) -> None:
    with pytest.raises(Refused) as refused:
        package_bytes(tmp_path, relpath, what="a path", limit=100)
    assert refused.value.finding.code in ("unsafe-path", "remote-path")


def test_undecodable_bytes_name_the_file_line_and_offset() -> None:
    with pytest.raises(Refused) as refused:
        decode(b"ok\nbad \xff here\n", name="data/x.csv")
    finding = refused.value.finding
    assert (finding.code, finding.file, finding.line, finding.value) == ("encoding-error", "data/x.csv", 2, "0xff")


@pytest.mark.parametrize(
    "text",
    ["a: " + "[" * 5_000 + "]" * 5_000, "- " * 100_000 + "x", "a: &a [1]\nb: *a\n", "x: !!python/object:os.system x"],
)
def test_hostile_yaml_is_refused_in_bounded_time(text: str) -> None:
    started = time.process_time()
    with pytest.raises(ValueError):
        load_yaml(text)
    assert time.process_time() - started < 2.0


def _depth_a_character_at_a_time(text: str) -> int:
    """The plain reading of the JSON depth guard: a bracket outside a string opens or closes a level."""
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


@given(st.text(alphabet='[]{}"\\ a\n', max_size=200))
@example('"\\\\"[')  # an escaped backslash: the quote after it closes the string, the bracket counts
@example('"\\"[')  # an escaped quote does not close it: the bracket is inside the string
@example('"[[[')  # a string never closed runs to the end
@example("]][")  # closing more than was opened
def test_the_json_depth_guard_counts_brackets_outside_strings_only(text: str) -> None:
    assert nesting_depth(text) == _depth_a_character_at_a_time(text)


# --- no network -------------------------------------------------------------------------------------


def test_offline_refuses_connections_and_lookups() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        with offline():
            with pytest.raises(NetworkRefused):
                socket.create_connection(("127.0.0.1", port), timeout=5)
            with pytest.raises(NetworkRefused):
                socket.getaddrinfo("example.org", 80)
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # outside, the process is untouched
    finally:
        server.close()


def test_reference_properties_holding_urls_are_findings() -> None:
    data = {"profile": "https://x.org/p.json", "resources": [{"schema": {"$ref": "http://x/s.json"}}], "path": "a"}
    found = {(f.code, f.column) for f in remote_references(data, file="datapackage.json")}
    assert found == {("remote-reference", "profile"), ("remote-reference", "resources.0.schema.$ref")}


# --- linear-time patterns -----------------------------------------------------------------------------

REDOS = {"^(a+)+$": "a" * 100_000 + "!", "(a|a)*b": "a" * 100_000, "(.*a){20}": "a" * 100_000}


@pytest.mark.parametrize("pattern", sorted(REDOS))
def test_backtracking_patterns_run_in_linear_time(pattern: str) -> None:
    started = time.process_time()
    matched = compile_linear(f"^(?:{pattern})$").match(REDOS[pattern]) is not None
    assert time.process_time() - started < 1.0
    assert matched == (pattern == "(.*a){20}")  # twenty a's or more: yes; a trailing ! or no b: no


@pytest.mark.parametrize("engine", ["frictionless", "pandera", "vectorised"])
@pytest.mark.parametrize("pattern", sorted(REDOS))
def test_every_engine_matches_a_backtracking_pattern_in_bounded_cpu(tmp_path: Path, engine: str, pattern: str) -> None:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "clean", package)
    schema_file = package / "schemas" / "source_authors.json"
    schema = json.loads(schema_file.read_text())
    field = next(f for f in schema["fields"] if f["name"] == "name")
    field.setdefault("constraints", {})["pattern"] = pattern
    schema_file.write_text(json.dumps(schema, indent=2))
    data = package / "data" / "source_authors.csv"
    data.write_text(data.read_text().replace("Mimi Yagoub", REDOS[pattern][:50_000] + "!"))
    refresh_integrity(package)
    started = time.process_time()
    report = validate(package, engines=(engine,), against=False)
    assert time.process_time() - started < 20.0
    flagged = {(f.code, f.column) for f in report.findings if f.table == "source_authors"}
    assert ("constraint-error", "name") in flagged  # a cell the pattern refuses is still reported


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<!a)b", "(", "a{1001}"])
def test_patterns_re2_cannot_run_are_refused(pattern: str) -> None:
    assert refusal(pattern) is not None


def test_the_project_patterns_all_run_in_linear_time() -> None:
    for schema_file in sorted((ROOT / "schemas").glob("*.json")):
        for field in json.loads(schema_file.read_text())["fields"]:
            pattern = field.get("constraints", {}).get("pattern")
            assert pattern is None or refusal(pattern) is None, (schema_file.name, field["name"])


# --- faults are one line naming the file, exit 2, nothing half-written --------------------------------

FAULT = textwrap.dedent(
    """
    import errno, os, sys
    target, number, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    real = {"open": os.open, "replace": os.replace, "mkdir": os.mkdir}[name]

    def failing(path, *args, **kwargs):
        if target in os.fspath(path):
            raise OSError(number, os.strerror(number), os.fspath(path))
        return real(path, *args, **kwargs)

    setattr(os, name, failing)
    sys.argv = ["uslatam", *sys.argv[4:]]
    from uslatam.cli.app import main
    main()
    """
)


def _with_fault(cwd: Path, target: str, number: int, function: str, *command: str):
    import subprocess

    return subprocess.run(
        [sys.executable, "-c", FAULT, target, str(number), function, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


FAULTS = {
    # name: (text in the failing path, errno, function failing, command, what the line must name)
    "read-only package (release)": (".uslatam", errno.EROFS, "mkdir", ("release", "patch"), ".uslatam"),
    "read-only package (rehash)": (".tmp", errno.EROFS, "open", ("rehash",), "datapackage.json"),
    "no space left (rehash)": (".tmp", errno.ENOSPC, "replace", ("rehash",), "datapackage.json"),
    "permission denied (export)": (
        "quotes.csv",
        errno.EACCES,
        "open",
        ("export", "../out.sqlite", "--package", "."),
        "quotes.csv",
    ),
    "permission denied (docs)": ("quotes.csv", errno.EACCES, "open", ("docs", "--check"), "quotes.csv"),
    "vanished file (figures)": (
        "spans.csv",
        errno.ENOENT,
        "open",
        ("figures", "../figs", "--package", "."),
        "spans.csv",
    ),
    "vanished file (cite)": ("CITATION.cff", errno.ENOENT, "open", ("cite",), "CITATION.cff"),
    "vanished file (diff)": ("quotes.csv", errno.ENOENT, "open", ("diff", ".", str(ROOT)), "quotes.csv"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_is_one_line_naming_the_file(package_copy: Path, fault: str) -> None:
    target, number, function, command, named = FAULTS[fault]
    shutil.copy(ROOT / "README.md", package_copy / "README.md")  # docs regenerates its table of tables
    descriptor = json.loads((package_copy / "datapackage.json").read_text())
    descriptor["resources"][0]["bytes"] = 1  # a hand edit, so that rehash has something to write
    (package_copy / "datapackage.json").write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n")
    before = snapshot(package_copy)
    result = _with_fault(package_copy, target, number, function, *command)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and named in lines[0], lines
    assert snapshot(package_copy) == before
    assert not (package_copy / ".uslatam" / "journal.json").exists()
    assert not list(package_copy.rglob("*.tmp")) and not list(package_copy.rglob(".*uslatam-tmp-*"))
    assert not (package_copy.parent / "out.sqlite").exists() and not (package_copy.parent / "figs").exists()


# --- release ------------------------------------------------------------------------------------------------


def test_release_refuses_an_invalid_package_naming_the_findings(package_copy: Path) -> None:
    (package_copy / "CITATION.cff").unlink()
    with pytest.raises(ReleaseError, match="does not validate: missing-citation CITATION.cff"):
        release(package_copy, "patch")


def test_release_never_rehashes_a_hand_edit(package_copy: Path) -> None:
    quotes = package_copy / "data" / "quotes.csv"
    quotes.write_bytes(quotes.read_bytes().replace(b"market", b"marked", 1))
    descriptor = (package_copy / "datapackage.json").read_bytes()
    result = uslatam("release", "patch", cwd=package_copy)
    assert (
        result.returncode == 1 and "hash-count data/quotes.csv" in result.stderr and "uslatam rehash" in result.stderr
    )
    assert (package_copy / "datapackage.json").read_bytes() == descriptor


def test_the_official_v2_schema_name_is_no_finding_but_any_other_schema_url_is() -> None:
    official = {"$schema": "https://datapackage.org/profiles/2.0/datapackage.json"}
    assert remote_references(official, file="datapackage.json") == []
    assert "$schema" not in without_remote_references(official)  # engines never see it, so never fetch it
    lookalike = {"$schema": "https://datapackage.org/profiles/2.0/datapackage.json?x=1"}
    assert [f.column for f in remote_references(lookalike, file="datapackage.json")] == ["$schema"]
