"""An untrusted package is refused before anything outside it is opened or fetched."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from uslatam.package import check_path
from uslatam.validate import validate

from .conftest import FIXTURES


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/etc/passwd", "unsafe-path"),
        ("../outside.csv", "unsafe-path"),
        ("data/../../outside.csv", "unsafe-path"),
        ("data/../data/entities.csv", "unsafe-path"),
        ("data\\..\\..\\outside.csv", "unsafe-path"),
        ("C:\\data\\entities.csv", "unsafe-path"),
        (".hidden/entities.csv", "unsafe-path"),
        ("data/.git/entities.csv", "unsafe-path"),
        ("./data/entities.csv", "unsafe-path"),
        ("https://example.org/entities.csv", "remote-path"),
        ("http://169.254.169.254/latest/meta-data", "remote-path"),
        ("file:///etc/passwd", "remote-path"),
        ("//server/share/entities.csv", "remote-path"),
        ("", "resource-error"),
    ],
)
def test_unsafe_paths_are_refused(tmp_path: Path, path: str, code: str) -> None:
    finding = check_path(tmp_path, path, what="path")
    assert finding is not None and finding.code == code


def test_a_safe_path_passes(tmp_path: Path) -> None:
    assert check_path(tmp_path, "data/entities.csv", what="path") is None


def _hostile(tmp_path: Path, path: str) -> Path:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "clean", package)
    descriptor = json.loads((package / "datapackage.json").read_text())
    next(r for r in descriptor["resources"] if r["name"] == "source_authors")["path"] = path
    (package / "datapackage.json").write_text(json.dumps(descriptor))
    return package


def test_a_symlink_leading_out_is_refused_and_its_target_never_opened(tmp_path: Path, monkeypatch) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("source_id,author_order,name,basis\n")
    package = _hostile(tmp_path, "data/link.csv")
    os.symlink(secret, package / "data" / "link.csv")
    opened = []
    real_open = builtins.open

    def audit(file, *args, **kwargs):
        opened.append(os.path.realpath(file) if isinstance(file, (str, os.PathLike)) else file)
        return real_open(file, *args, **kwargs)

    real_read_bytes = Path.read_bytes

    def audited_read_bytes(self: Path) -> bytes:
        opened.append(os.path.realpath(self))
        return real_read_bytes(self)

    monkeypatch.setattr(builtins, "open", audit)
    monkeypatch.setattr(Path, "read_bytes", audited_read_bytes)
    report = validate(package)
    assert ("unsafe-path", "source_authors") in {(f.code, f.table) for f in report.findings}
    assert str(secret) not in opened


def test_no_network_connection_is_attempted_for_a_remote_resource(tmp_path: Path, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    report = validate(_hostile(tmp_path, "http://169.254.169.254/latest/meta-data/source_authors.csv"))
    assert ("remote-path", "source_authors") in {(f.code, f.table) for f in report.findings}


def test_deeply_nested_json_is_refused_without_recursion(tmp_path: Path) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "datapackage.json").write_text('{"resources": ' + "[" * 100_000 + "]" * 100_000 + "}")
    report = validate(package)
    assert report.fatal and [f.code for f in report.findings] == ["package-error"]


def test_a_huge_number_is_refused(tmp_path: Path) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "datapackage.json").write_text('{"name": "x", "bytes": ' + "9" * 5000 + "}")
    report = validate(package)
    assert report.fatal and report.findings[0].code == "package-error"
