"""Every fixture package yields exactly the findings its one defect must produce."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from uslatam.codes import CATALOGUE
from uslatam.package import Limits
from uslatam.validate import validate

from .conftest import FIXTURES, ROOT

CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def _expected(case: str) -> tuple[set, dict]:
    meta = json.loads((FIXTURES / case / "expected.json").read_text())
    return {tuple(e) for e in meta["expected"]}, meta.get("options", {})


@pytest.mark.parametrize("case", CASES)
def test_fixture_findings_are_exact(case: str) -> None:
    expected, options = _expected(case)
    against = options.pop("against", False)
    report = validate(FIXTURES / case, limits=Limits(**options), against=FIXTURES / against if against else False)
    found = {f.location for f in report.findings}
    assert found == expected, "\n".join(f"{f.location} {f.message}" for f in report.findings)


def test_clean_fixture_is_valid() -> None:
    report = validate(FIXTURES / "clean")
    assert report.valid and report.findings == []


# Codes no committed fixture can carry, each with the test that produces it instead.
NOT_IN_GIT = {
    "unreadable-file": "git keeps no read permissions (and root reads anything): tests/test_trust_boundary.py",
    # a fixture lies in this repository's git, whose history has its releases
    "release-history-missing": "a shallow clone and a copy without git: tests/test_diff_release_cite.py",
    "release-history-required": "a shallow clone and a copy without git: tests/test_diff_release_cite.py",
}


def test_every_catalogue_code_has_a_fixture() -> None:
    covered = {code for case in CASES for code, *_ in _expected(case)[0]}
    validate_codes = {code for code, entry in CATALOGUE.items() if entry.layer != "input"}
    assert validate_codes - covered == set(NOT_IN_GIT)


def test_committed_fixtures_are_current(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_fixtures.py"), str(tmp_path)], check=True, capture_output=True
    )
    stale = []
    for file in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        committed = FIXTURES / file.relative_to(tmp_path)
        if not committed.is_file() or committed.read_bytes() != file.read_bytes():
            stale.append(str(file.relative_to(tmp_path)))
    extra = [
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and not (tmp_path / p.relative_to(FIXTURES)).is_file()
    ]
    assert not stale and not extra, (
        f"tests/fixtures is stale ({stale[:5]} {extra[:5]}); regenerate with: python scripts/make_fixtures.py"
    )
