"""Differential test: frictionless, pandera and the vectorised engine report the same findings.

Same set of (code, table, line, column) on every fixture package and on synthetic packages
with defects injected at seeded places; and each injected defect is among them. frictionless
is the cross-check, not a default engine: this test is what lets the default leave it out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uslatam import validate as validate_module
from uslatam.package import Limits
from uslatam.synthetic import DEFECT_KINDS, generate
from uslatam.validate import DEFAULT_ENGINES, reads_with_arrow, validate

from .conftest import FIXTURES

CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def _locations(package: Path, engine: str, **options) -> set[tuple]:
    report = validate(package, engines=(engine,), **options)
    return {f.location for f in report.findings}


def _options(case: str) -> dict:
    options = json.loads((FIXTURES / case / "expected.json").read_text()).get("options", {})
    against = options.pop("against", False)
    return {"limits": Limits(**options), "against": FIXTURES / against if against else False}


def _pandera_read_by_arrow(package: Path, **options) -> set[tuple]:
    """pandera's findings with the tables read by pyarrow, as on a package above LARGE_PACKAGE_BYTES."""
    patch = pytest.MonkeyPatch()
    patch.setattr(validate_module, "LARGE_PACKAGE_BYTES", 0)
    try:
        return _locations(package, "pandera", **options)
    finally:
        patch.undo()


def _disagreement(package: Path, **options) -> tuple[set[tuple], str]:
    """frictionless's findings, and how each other engine's differ from them ("" when none does)."""
    frictionless = _locations(package, "frictionless", **options)
    differences = []
    others = {
        "pandera": _locations(package, "pandera", **options),
        "pandera read by pyarrow": _pandera_read_by_arrow(package, **options),
        "vectorised": _locations(package, "vectorised", **options),
    }
    for engine, other in others.items():
        if other != frictionless:
            differences.append(f"only frictionless: {frictionless - other}\nonly {engine}: {other - frictionless}")
    return frictionless, "\n".join(differences)


@pytest.mark.parametrize("case", CASES)
def test_engines_agree_on_fixture(case: str) -> None:
    _, differences = _disagreement(FIXTURES / case, **_options(case))
    assert not differences, differences


@pytest.mark.parametrize("seed", [1, 2])
def test_engines_agree_on_injected_defects(tmp_path: Path, seed: int) -> None:
    injected = generate(tmp_path / "package", 400, seed=seed, defects={kind: 4 for kind in DEFECT_KINDS})
    found, differences = _disagreement(tmp_path / "package", against=False)
    assert not differences, differences
    assert {d.key() for d in injected} <= found
    assert len(injected) == 4 * len(DEFECT_KINDS)


def test_synthetic_package_is_valid_and_deterministic(tmp_path: Path) -> None:
    generate(tmp_path / "a", 300, seed=7)
    generate(tmp_path / "b", 300, seed=7)
    for engine in ("frictionless", "vectorised"):
        report = validate(tmp_path / "a", engines=(engine,), against=False)
        assert report.valid, [f.location for f in report.findings]
        assert report.tables["spans"] == 300 and report.tables["quotes"] == 300
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


@pytest.mark.parametrize("engine", ["pandera", "vectorised", "frictionless"])
def test_more_than_a_thousand_errors_are_all_reported(tmp_path: Path, engine: str) -> None:
    injected = generate(tmp_path / "package", 3000, seed=3, defects={"type": 600, "enum": 600})
    report = validate(tmp_path / "package", engines=(engine,), against=False)
    assert len(injected) == 1200
    assert {d.key() for d in injected} <= {f.location for f in report.findings}


def test_pandera_runs_at_every_size_and_pyarrow_reads_a_large_package(monkeypatch) -> None:
    from uslatam.package import load
    from uslatam.validate import structure

    package, _ = load(FIXTURES / "clean")
    read_by_arrow = []
    read_fast = structure._read_fast
    monkeypatch.setattr(structure, "_read_fast", lambda *a: read_by_arrow.append(a[0].name) or read_fast(*a))
    assert validate(FIXTURES / "clean").engines == DEFAULT_ENGINES == ("pandera",)
    assert not reads_with_arrow(package, DEFAULT_ENGINES) and not read_by_arrow
    monkeypatch.setattr(validate_module, "LARGE_PACKAGE_BYTES", 1)
    assert reads_with_arrow(package, DEFAULT_ENGINES)
    assert not reads_with_arrow(package, ("frictionless",))  # the cross-check reads strictly at every size
    assert validate(FIXTURES / "clean").engines == ("pandera",)
    assert sorted(read_by_arrow) == sorted(r.name for r in package.resources)


@pytest.mark.parametrize("engine", ["frictionless", "pandera", "vectorised"])
def test_findings_credit_only_the_layers_that_ran(engine: str) -> None:
    layers = {"lint", "structure", "rules", engine}
    for case in ("type-error", "constraint-error", "primary-key", "foreign-key"):
        report = validate(FIXTURES / case, engines=(engine,), **_options(case))
        assert report.findings, case
        for finding in report.findings:
            assert set(finding.found_by) <= layers, (case, finding.location, finding.found_by)


@pytest.mark.parametrize("engine", ["pandera", "vectorised"])
def test_an_empty_required_cell_is_reported_without_a_value(engine: str) -> None:
    report = validate(FIXTURES / "empty-primary-key", engines=(engine,), against=False)
    empty = [f for f in report.findings if f.code == "constraint-error"]
    assert len(empty) == 6 and all(f.value is None for f in empty), [(f.location, f.value) for f in empty]
