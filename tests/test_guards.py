"""Guards over the project's own source: rules a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

WALL_CLOCKS = {("time", "perf_counter"), ("time", "time"), ("time", "monotonic"), ("time", "perf_counter_ns")}


def _wall_clock_reads(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in WALL_CLOCKS:
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            lines += [node.lineno for alias in node.names if ("time", alias.name) in WALL_CLOCKS]
    return lines


def test_no_test_reads_the_wall_clock() -> None:
    """A bound in the default suite is on CPU time (time.process_time, getrusage); wall time is for benchmarks."""
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "tests").glob("*.py"))
        if (lines := _wall_clock_reads(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}, offenders


def test_the_wall_clock_guard_finds_a_wall_clock() -> None:
    sample = "import time\nstarted = time.perf_counter()\nfrom time import monotonic\n"
    assert _wall_clock_reads(ast.parse(sample)) == [2, 3]

