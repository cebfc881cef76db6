"""Every corruption operator, applied to every table of a copy of the real package, is caught
with a stable code at the exact file and physical line of the injected defect."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from uslatam.package import copy_package, refresh_integrity
from uslatam.validate import validate

from .conftest import ROOT, record
from .corruption import OPERATORS, read_table

# CI runs every mutant through the vectorised engines (structure, pandera, rules) and, for the
# first table each operator applies to, through frictionless as well; USLATAM_MATRIX=full runs
# every mutant through both (about five minutes here).
FULL = os.environ.get("USLATAM_MATRIX") == "full"
RESOURCES = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))["resources"]
PAIRS = [
    (name, resource["name"])
    for name, op in OPERATORS.items()
    for resource in RESOURCES
    if op(read_table(ROOT, resource)) is not None
]
BOTH_ENGINES = {pair for pair in PAIRS if FULL or pair == next(p for p in PAIRS if p[0] == pair[0])}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return copy_package(ROOT, tmp_path_factory.mktemp("matrix") / "package")


def test_the_matrix_is_large_enough() -> None:
    assert len(OPERATORS) >= 30
    tables = {table for _, table in PAIRS}
    assert tables == {r["name"] for r in RESOURCES}
    record("matrix-size", operators=len(OPERATORS), tables=len(tables), mutants=len(PAIRS))


def test_the_clean_package_produces_no_finding(package: Path) -> None:
    assert validate(package, against=False).findings == []


@pytest.mark.parametrize(("operator", "table"), PAIRS, ids=[f"{o}:{t}" for o, t in PAIRS])
def test_mutant_is_rejected_at_the_injected_place(package: Path, operator: str, table: str) -> None:
    resource = next(r for r in RESOURCES if r["name"] == table)
    mutation = OPERATORS[operator](read_table(package, resource))
    originals = {path: (package / path).read_bytes() for path in [*mutation.files, "datapackage.json"]}
    try:
        for path, data in mutation.files.items():
            (package / path).write_bytes(data)
        if mutation.rehash:
            refresh_integrity(package)
        engines = ("frictionless", "pandera") if (operator, table) in BOTH_ENGINES else ("pandera",)
        report = validate(package, against=False, engines=engines)
        found = {(f.code, f.file, f.line) for f in report.findings}
        exact = (mutation.code, mutation.file, mutation.line) in found
        record(
            "mutant",
            operator=operator,
            table=table,
            rejected=not report.valid,
            exact=exact,
            code=mutation.code,
            engines=list(engines),
        )
        assert not report.valid
        assert exact, f"expected {(mutation.code, mutation.file, mutation.line)}, found {sorted(found, key=str)}"
    finally:
        for path, data in originals.items():
            (package / path).write_bytes(data)
