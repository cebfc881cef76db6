"""Hostile packages are refused with a specific code, in bounded CPU time and memory, touching nothing outside.

Each case builds a package from the clean fixture with one hostile element. Validation runs
with sockets blocked and every file open audited: it must not connect anywhere, read a file
outside the package (other than Python's own installation), or write any file at all.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import sysconfig
import time
import tracemalloc
from pathlib import Path

import pytest

import uslatam
from uslatam.validate import validate

from .conftest import FIXTURES, record

# CPU time, not wall time, and as a ratio to validating the clean fixture in the same run: a busy
# or slow machine must not fail the suite, while a hostile input that makes the work unbounded
# (a backtracking pattern, a bomb) is many times over it.
CPU_RATIO, MEGABYTES = 3.0, 200
AUDIT = {"active": False, "opened": [], "written": []}


def _audit(event: str, args) -> None:
    if AUDIT["active"] and event == "open":
        path, mode, flags = (list(args) + [None, None])[:3]
        if isinstance(path, (str, bytes, os.PathLike)):
            target = os.path.realpath(os.fsdecode(path))
            writing = (isinstance(mode, str) and any(m in mode for m in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            AUDIT["written" if writing else "opened"].append(target)


sys.addaudithook(_audit)
PYTHON_HOMES = {
    os.path.realpath(p)
    for p in (
        sys.prefix,
        sys.base_prefix,
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        sysconfig.get_paths()["stdlib"],
        os.path.dirname(uslatam.__file__),  # a module imported lazily is the tool's own code, not a package read
    )
}
SYSTEM_READS = ("/dev/", "/proc/", "/sys/", "/etc/", "/usr/share/zoneinfo", "/usr/lib/")


def _package(tmp_path: Path) -> Path:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "clean", package)
    (package / "expected.json").unlink()
    return package


def _descriptor(package: Path) -> dict:
    return json.loads((package / "datapackage.json").read_text())


def _put(package: Path, descriptor: dict) -> None:
    (package / "datapackage.json").write_text(json.dumps(descriptor, indent=2))


def _resource_path(value: str):
    def build(package: Path, outside: Path) -> None:
        descriptor = _descriptor(package)
        next(r for r in descriptor["resources"] if r["name"] == "source_authors")["path"] = value
        _put(package, descriptor)

    return build


def _schema_path(value: str):
    def build(package: Path, outside: Path) -> None:
        descriptor = _descriptor(package)
        next(r for r in descriptor["resources"] if r["name"] == "source_authors")["schema"] = value
        _put(package, descriptor)

    return build


def _symlink_out(package: Path, outside: Path) -> None:
    os.symlink(outside, package / "data" / "authors-link.csv")
    _resource_path("data/authors-link.csv")(package, outside)


def _symlinked_folder(package: Path, outside: Path) -> None:
    os.symlink(outside.parent, package / "data" / "elsewhere")
    _resource_path(f"data/elsewhere/{outside.name}")(package, outside)


def _text_path(value: str):
    def build(package: Path, outside: Path) -> None:
        path = package / "data" / "sources.csv"
        path.write_text(
            path.read_text().replace(
                "sources/insightcrime-2017-05-19-mexico-colombia-meetings.txt", value.format(outside=outside)
            )
        )

    return build


def _raw_descriptor(text: str | bytes):
    def build(package: Path, outside: Path) -> None:
        data = text.encode() if isinstance(text, str) else text
        (package / "datapackage.json").write_bytes(data)

    return build


def _duplicate_keys(package: Path, outside: Path) -> None:
    text = (package / "datapackage.json").read_text()
    (package / "datapackage.json").write_text(
        text.replace('"name": "us-latam-security-facts",', '"name": "us-latam-security-facts",\n"name": "x",', 1)
    )


def _yaml_descriptor(text: str):
    def build(package: Path, outside: Path) -> None:
        (package / "datapackage.json").unlink()
        (package / "datapackage.yaml").write_text(text)

    return build


def _citation(text: str):
    def build(package: Path, outside: Path) -> None:
        (package / "CITATION.cff").write_text(text)

    return build


def _huge_cell(package: Path, outside: Path) -> None:
    path = package / "data" / "source_authors.csv"
    path.write_text(path.read_text().replace("Mimi Yagoub", "M" * 5_000_000))


def _many_columns(package: Path, outside: Path) -> None:
    path = package / "data" / "source_authors.csv"
    lines = path.read_text().split("\n")
    lines[0] += "".join(f",c{i}" for i in range(10_000))
    path.write_text("\n".join(lines))


def _sparse_file(package: Path, outside: Path) -> None:
    with open(package / "data" / "source_authors.csv", "r+b") as handle:
        handle.truncate(3 * 1024**3)  # 3 GiB, no blocks on disk


def _schema_text(text: str):
    def build(package: Path, outside: Path) -> None:
        (package / "schemas" / "source_authors.json").write_text(text)

    return build


def _inline_data(package: Path, outside: Path) -> None:
    descriptor = _descriptor(package)
    next(r for r in descriptor["resources"] if r["name"] == "source_authors")["data"] = [["a"]]
    _put(package, descriptor)


def _symlinked_descriptor(package: Path, outside: Path) -> None:
    real = outside.parent / "elsewhere.json"
    shutil.move(package / "datapackage.json", real)
    os.symlink(real, package / "datapackage.json")


CASES = {
    "absolute-path": (_resource_path("/etc/passwd"), "unsafe-path"),
    "parent-traversal": (_resource_path("../outside.csv"), "unsafe-path"),
    "data-dot-dot": (_resource_path("data/../data/source_authors.csv"), "unsafe-path"),
    "deep-traversal": (_resource_path("data/../../../../etc/passwd"), "unsafe-path"),
    "backslash-traversal": (_resource_path("data\\..\\..\\outside.csv"), "unsafe-path"),
    "windows-drive": (_resource_path("C:\\Windows\\win.ini"), "unsafe-path"),
    "hidden-folder": (_resource_path(".git/config"), "unsafe-path"),
    "symlink-leading-out": (_symlink_out, "unsafe-path"),
    "symlinked-folder-leading-out": (_symlinked_folder, "unsafe-path"),
    "symlinked-descriptor": (_symlinked_descriptor, "unsafe-path"),
    "file-url": (_resource_path("file:///etc/passwd"), "remote-path"),
    "remote-url": (_resource_path("https://example.org/authors.csv"), "remote-path"),
    "cloud-metadata-address": (_resource_path("http://169.254.169.254/latest/meta-data/iam"), "remote-path"),
    "unc-path": (_resource_path("//server/share/authors.csv"), "remote-path"),
    "remote-schema": (_schema_path("https://example.org/schema.json"), "remote-path"),
    "schema-traversal": (_schema_path("../../schema.json"), "unsafe-path"),
    "text-path-traversal": (_text_path("../../etc/passwd"), "unsafe-path"),
    "text-path-absolute": (_text_path("{outside}"), "unsafe-path"),
    "duplicate-json-keys": (_duplicate_keys, "duplicate-json-key"),
    "deeply-nested-json": (_raw_descriptor('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}"), "package-error"),
    "5000-digit-number": (
        _raw_descriptor('{"name": "x", "resources": [], "bytes": ' + "7" * 5000 + "}"),
        "package-error",
    ),
    "huge-descriptor": (_raw_descriptor('{"name": "' + "x" * 5_000_000 + '"}'), "package-error"),
    "descriptor-not-utf8": (_raw_descriptor(b'{"name": "\xff"}'), "package-error"),
    "descriptor-is-a-list": (_raw_descriptor("[1, 2, 3]"), "package-error"),
    "yaml-descriptor-with-object-tag": (
        _yaml_descriptor("name: !!python/object/apply:os.system ['echo hi']\n"),
        "missing-file",
    ),
    "citation-alias-bomb": (
        _citation(
            "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
            "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nversion: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        ),
        "version-mismatch",
    ),
    "citation-object-tag": (_citation("version: !!python/object/apply:os.system ['echo hi']\n"), "version-mismatch"),
    "huge-cell": (_huge_cell, "cell-too-large"),
    "ten-thousand-columns": (_many_columns, "too-many-columns"),
    "large-sparse-file": (_sparse_file, "file-too-large"),
    "deeply-nested-schema": (_schema_text('{"fields": ' + "[" * 10_000 + "]" * 10_000 + "}"), "schema-error"),
    "inline-data": (_inline_data, "resource-error"),
}


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture(scope="module")
def clean_seconds() -> float:
    """CPU seconds of validating the clean fixture in this process: the median of 3, after a warm-up."""
    import statistics

    validate(FIXTURES / "clean", against=False)  # warm caches and imports outside the measurement
    timings = []
    for _ in range(3):
        started = time.process_time()
        validate(FIXTURES / "clean", against=False)
        timings.append(time.process_time() - started)
    return statistics.median(timings)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_package_is_refused_safely(tmp_path: Path, case: str, no_network, clean_seconds: float) -> None:
    build, code = CASES[case]
    package = _package(tmp_path)
    outside = tmp_path / "outside-secret.csv"
    outside.write_text("source_id,author_order,name,basis\nsecret,1,Secret,public_reposts\n")
    build(package, outside)
    AUDIT["opened"].clear()
    AUDIT["written"].clear()
    started = time.process_time()
    AUDIT["active"] = True
    try:
        report = validate(package, against=False)
    finally:
        AUDIT["active"] = False
        cpu_seconds = time.process_time() - started
    tracemalloc.start()  # a second run for memory: tracing slows Python too much to time the first
    try:
        validate(package, against=False)
        peak = tracemalloc.get_traced_memory()[1] / 1024**2
    finally:
        tracemalloc.stop()
    codes = {f.code for f in report.findings}
    package_root = os.path.realpath(package)
    strays = [
        p
        for p in AUDIT["opened"]
        if not p.startswith(package_root)
        and not any(p.startswith(home) for home in PYTHON_HOMES)
        and not p.startswith(SYSTEM_READS)
    ]
    record(
        "hostile",
        case=case,
        code=code,
        refused=code in codes and not report.valid,
        cpu_seconds=round(cpu_seconds, 3),
        clean_cpu_seconds=round(clean_seconds, 3),
        megabytes=round(peak, 1),
        network_attempts=len(no_network),
        stray_reads=len(strays),
        writes=len(AUDIT["written"]),
    )
    assert code in codes and not report.valid, [f.to_dict() for f in report.findings]
    assert cpu_seconds < CPU_RATIO * clean_seconds, f"{cpu_seconds:.2f} s of CPU, clean {clean_seconds:.2f} s"
    assert peak < MEGABYTES, f"{peak:.0f} MB"
    assert no_network == []
    assert str(outside) not in AUDIT["opened"] and strays == [], strays
    assert AUDIT["written"] == []


def test_there_are_enough_hostile_cases() -> None:
    assert len(CASES) >= 25
