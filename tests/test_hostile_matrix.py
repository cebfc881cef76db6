"""Every hostile case against every command that reads it, run as a user would (a subprocess).

Each run must refuse (exit 1 or 2) with the hostile file named, print no traceback,
leave the package and everything outside it as they were, attempt no connection (a
loopback listener counts them) and stay within a bound on the child's CPU time,
measured with getrusage(RUSAGE_CHILDREN). Wall time is not measured: a stuck process is only ended
after a long grace period, since a blocked read uses no CPU to count.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT, record
from .test_add import TACKLE_JOINTLY, _drop_rows

CPU_SECONDS = 30.0  # far above a normal run (2-4 s of CPU, mostly imports); a backtracking pattern never ends
HUNG = 600  # seconds before a process that is not using CPU (a blocked read) is ended and the case fails
TEXT = "sources/insightcrime-2017-05-19-mexico-colombia-meetings.txt"
SOURCE_ID = "insightcrime-2017-05-19-mexico-colombia-meetings"


class Listener:
    """A loopback TCP listener that counts the connections it is offered."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The real package without one real quote (so that ``add`` of it would succeed), valid."""
    from uslatam.package import refresh_integrity
    from uslatam.validate import validate

    package = tmp_path_factory.mktemp("base") / "package"
    shutil.copytree(ROOT, package, ignore=_not_package_files)
    _drop_rows(package, "quotes", "quote_id", {"videgaray-tackle-jointly"})
    # a claim shares the attribution span, which stays
    _drop_rows(package, "spans", "span_id", {"ic-q-tackle-jointly"})
    refresh_integrity(package)
    assert validate(package).valid
    return package


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


# --- the hostile cases -------------------------------------------------------------------------


def _descriptor(package: Path) -> dict:
    return json.loads((package / "datapackage.json").read_text(encoding="utf-8"))


def _put(package: Path, descriptor: dict) -> None:
    (package / "datapackage.json").write_text(json.dumps(descriptor, indent=2), encoding="utf-8")


def symlink_out(package: Path, outside: Path, port: int) -> None:
    data = package / "data" / "source_authors.csv"
    outside.write_bytes(data.read_bytes().replace(b"Mimi Yagoub", b"SECRET OUTSIDE"))
    data.unlink()
    os.symlink(outside, data)


def parent_path(package: Path, outside: Path, port: int) -> None:
    descriptor = _descriptor(package)
    next(r for r in descriptor["resources"] if r["name"] == "source_authors")["path"] = "../outside.csv"
    _put(package, descriptor)


def remote_profile(package: Path, outside: Path, port: int) -> None:
    descriptor = _descriptor(package)
    descriptor["profile"] = f"http://127.0.0.1:{port}/profile.json"
    descriptor["resources"][0]["$schema"] = f"http://127.0.0.1:{port}/resource.json"
    _put(package, descriptor)
    schema = package / "schemas" / "source_authors.json"
    text = json.loads(schema.read_text(encoding="utf-8"))
    text["$ref"] = f"http://127.0.0.1:{port}/schema.json"
    schema.write_text(json.dumps(text, indent=2), encoding="utf-8")


def fifo_text(package: Path, outside: Path, port: int) -> None:
    (package / TEXT).unlink()
    os.mkfifo(package / TEXT)


def fifo_data(package: Path, outside: Path, port: int) -> None:
    (package / "data" / "source_authors.csv").unlink()
    os.mkfifo(package / "data" / "source_authors.csv")


def redos_patterns(package: Path, outside: Path, port: int) -> None:
    schema_file = package / "schemas" / "source_authors.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    patterns = {"name": "^(a+)+$", "basis": "(a|a)*b"}
    for field in schema["fields"]:
        if field["name"] in patterns:
            field.setdefault("constraints", {})["pattern"] = patterns[field["name"]]
            field.pop("enum", None)
            field["constraints"].pop("enum", None)
    schema_file.write_text(json.dumps(schema, indent=2), encoding="utf-8")
    data = package / "data" / "source_authors.csv"
    lines = data.read_text(encoding="utf-8").split("\n")
    lines[1] = re.sub(r"Mimi Yagoub", "a" * 50_000 + "!", lines[1])
    data.write_text("\n".join(lines), encoding="utf-8")


def deep_schema(package: Path, outside: Path, port: int) -> None:
    (package / "schemas" / "source_authors.json").write_text('{"fields": ' + "[" * 100_000 + "]" * 100_000 + "}")


def undecodable_csv(package: Path, outside: Path, port: int) -> None:
    data = package / "data" / "source_authors.csv"
    data.write_bytes(data.read_bytes().replace(b"Mimi Yagoub", b"Mimi \xff\xfe Yagoub"))


def many_resources(package: Path, outside: Path, port: int) -> None:
    descriptor = _descriptor(package)
    template = descriptor["resources"][0]
    descriptor["resources"] += [{**template, "name": f"extra_{n}"} for n in range(20_000)]
    _put(package, descriptor)


def foreign_journal(package: Path, outside: Path, port: int) -> None:
    (package / ".uslatam").mkdir(exist_ok=True)
    temporary = package / "data" / ".x.uslatam-tmp-0123abcd"
    temporary.write_text("owned\n", encoding="utf-8")
    moves = [{"path": "../outside.csv", "temporary": "data/.x.uslatam-tmp-0123abcd", "after": "0" * 64, "file": [0, 0]}]
    (package / ".uslatam" / "journal.json").write_text(json.dumps({"token": "0123abcd", "moves": moves}))


def citation_bomb(package: Path, outside: Path, port: int) -> None:
    (package / "CITATION.cff").write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\nversion: 1.0.0\n")


def text_symlink_out(package: Path, outside: Path, port: int) -> None:
    outside.write_bytes((package / TEXT).read_bytes())
    (package / TEXT).unlink()
    os.symlink(outside, package / TEXT)


def fifo_inputs(package: Path, outside: Path, port: int) -> None:
    for name in ("quote.yaml", "article.txt"):
        (package.parent / "inputs" / name).unlink(missing_ok=True)
        os.mkfifo(package.parent / "inputs" / name)


def deep_yaml_input(package: Path, outside: Path, port: int) -> None:
    (package.parent / "inputs" / "quote.yaml").write_text("quotes: " + "[" * 50_000 + "]" * 50_000 + "\n")
    (package.parent / "inputs" / "meta.yaml").write_text("title: " + "[" * 50_000 + "]" * 50_000 + "\n")


@dataclass(frozen=True)
class Case:
    build: Callable[[Path, Path, int], None]
    names: str  # what the refusal must name (a regular expression)
    commands: tuple[str, ...]


PACKAGE_READERS = (
    "validate",
    "add",
    "add-source",
    "diff",
    "release",
    "export",
    "rehash",
    "figures",
    "docs",
    "coverage",
    "archive",
)
TABLE_READERS = tuple(c for c in PACKAGE_READERS if c != "rehash")  # rehash hashes bytes; it parses no table
CASES = {
    "symlink-leading-out": Case(symlink_out, r"source_authors\.csv", PACKAGE_READERS),
    "parent-path": Case(parent_path, r"\.\./outside\.csv", PACKAGE_READERS),
    "remote-references": Case(remote_profile, r"profile|\$schema|\$ref", ("validate", "release")),
    "fifo-for-a-source-text": Case(
        fifo_text, re.escape(TEXT), ("validate", "add", "release", "locate", "figures", "coverage")
    ),
    "fifo-for-a-table": Case(fifo_data, r"source_authors\.csv", PACKAGE_READERS),
    "backtracking-patterns": Case(redos_patterns, r"source_authors\.csv", ("validate", "add", "release")),
    "deeply-nested-schema": Case(deep_schema, r"source_authors\.json", PACKAGE_READERS),
    "undecodable-table": Case(undecodable_csv, r"source_authors\.csv", TABLE_READERS),
    "twenty-thousand-resources": Case(many_resources, r"datapackage\.json|resources", PACKAGE_READERS),
    "foreign-journal": Case(foreign_journal, r"journal\.json", ("validate", "add", "add-source", "release", "recover")),
    "deeply-nested-citation": Case(citation_bomb, r"CITATION\.cff", ("validate", "release", "cite")),
    "source-text-symlinked-out": Case(
        text_symlink_out, re.escape(TEXT), ("validate", "add", "locate", "figures", "coverage")
    ),
    "fifo-for-an-input-file": Case(fifo_inputs, r"quote\.yaml|article\.txt", ("add", "add-source")),
    "deeply-nested-input": Case(deep_yaml_input, r"quote\.yaml|meta\.yaml", ("add", "add-source")),
}


# --- the commands ---------------------------------------------------------------------------------


def arguments(command: str, package: Path, inputs: Path, out: Path) -> list[str]:
    if command == "add":
        _write_once(inputs / "quote.yaml", TACKLE_JOINTLY)
        return ["add", str(inputs / "quote.yaml"), "--package", str(package)]
    if command == "add-source":
        _write_once(inputs / "article.txt", "A New Article\n\nSomething happened.\n")
        return [
            "add-source",
            str(inputs / "article.txt"),
            *("--id", "example-2017-07-01-new", "--title", "A New Article", "--publisher", "Example"),
            *("--url", "https://example.org/new", "--published", "2017-07-01", "--language", "en"),
            *("--reuse-terms", "None stated.", "--package", str(package)),
            *(("--metadata", str(inputs / "meta.yaml")) if (inputs / "meta.yaml").exists() else ()),
        ]
    return {
        "validate": ["validate", str(package)],
        "diff": ["diff", str(package), str(ROOT)],
        "release": ["release", "patch", "--package", str(package)],
        "export": ["export", str(out / "facts.sqlite"), "--package", str(package)],
        "rehash": ["rehash", str(package)],
        "figures": ["figures", str(out / "figures"), "--package", str(package)],
        "docs": ["docs", str(package)],
        "cite": ["cite", "--package", str(package)],
        "recover": ["recover", str(package)],
        "locate": ["locate", SOURCE_ID, "Tillerson", "--package", str(package)],
        "coverage": ["coverage", "--package", str(package)],
        "archive": ["archive", str(out / "dist"), "--package", str(package)],
    }[command]


def _write_once(path: Path, text: str) -> None:
    """Write a default input, unless a case has put its own there (a FIFO must not be opened)."""
    if not path.exists() and not path.is_symlink():
        path.write_text(text, encoding="utf-8")


def _tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry's bytes (or kind, for a FIFO or symlink), without following symlinks or opening FIFOs."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.name.startswith("lock"):
            continue  # taking the package lock is allowed
        if path.is_symlink():
            found[relative] = f"symlink to {os.readlink(path)}"
        elif path.is_fifo():
            found[relative] = "fifo"
        elif path.is_file():
            found[relative] = path.read_bytes()
    return found


def run_child(argv: list[str], cwd: Path) -> tuple[int, str, str, float]:
    """Run ``uslatam`` and return (exit code, stdout, stderr, CPU seconds of the child).

    The CPU time is the growth of this process's RUSAGE_CHILDREN over the run: tests of
    one worker run one at a time, so it is this child's user and system time.
    """
    import resource

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = children()
    process = subprocess.Popen(
        [sys.executable, "-m", "uslatam.cli.app", *argv],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        stdout, stderr = process.communicate(timeout=HUNG)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"uslatam {' '.join(argv)} hung (blocked without using CPU)")
    return process.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), children() - before


MATRIX = [(case, command) for case, spec in sorted(CASES.items()) for command in spec.commands]


@pytest.mark.parametrize(("case", "command"), MATRIX, ids=[f"{c}-{m}" for c, m in MATRIX])
def test_hostile_input_is_refused_by_every_command(
    tmp_path: Path, base: Path, listener: Listener, case: str, command: str
) -> None:
    spec = CASES[case]
    package = tmp_path / "package"
    shutil.copytree(base, package, symlinks=True)
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    outside = tmp_path / "outside.csv"
    arguments(command, package, inputs, out)  # the default inputs, which a case may then replace
    spec.build(package, outside, listener.port)
    argv = arguments(command, package, inputs, out)
    package_before, outside_before = _tree(package), _outside(tmp_path)
    connections_before = listener.connections
    code, stdout, stderr, cpu = run_child(argv, tmp_path)
    said = stdout + stderr
    record("matrix", case=case, command=command, exit=code, cpu_seconds=round(cpu, 2))
    assert code in (1, 2), f"exit {code}: {said[-2000:]}"
    assert "Traceback" not in said, said[-3000:]
    assert re.search(spec.names, said), f"the refusal does not name {spec.names}: {said[-2000:]}"
    assert listener.connections == connections_before, "a connection was attempted"
    assert _tree(package) == package_before, "the package was changed"
    assert _outside(tmp_path) == outside_before, "something was written outside the package"
    assert "SECRET OUTSIDE" not in said, "a file outside the package was read and shown"
    assert cpu < CPU_SECONDS, f"{cpu:.1f} s of CPU"


def _outside(tmp_path: Path) -> dict[str, bytes | str]:
    return {k: v for k, v in _tree(tmp_path).items() if not k.startswith("package")}


PACKAGE_ENTRIES = {
    "datapackage.json",
    "CITATION.cff",
    "CHANGELOG.md",
    "README.md",
    "data",
    "schemas",
    "sources",
    "LICENSES",
}


def _not_package_files(folder: str, names: list[str]) -> set[str]:
    """copytree ignore: only the data package travels (no .git, .venv, src, tests, docs)."""
    if Path(folder) == ROOT:
        return {name for name in names if name not in PACKAGE_ENTRIES}
    return set()


def test_the_matrix_covers_every_command() -> None:
    from uslatam.cli.app import app

    # every command of the CLI, but the two that read no package (the catalogue, a synthetic package)
    reading = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback} - {"codes", "synth"}
    assert {command for _, command in MATRIX} == reading
    assert len(CASES) >= 14
