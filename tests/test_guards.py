"""Guards over the project's own source: rules a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast

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
    assert sorted(_wall_clock_reads(ast.parse(sample))) == [2, 3]


# --- every read of a package path goes through uslatam.boundary ------------------------------

SOURCE = ROOT / "src" / "uslatam"
READ_METHODS = {"read_text", "read_bytes"}
READERS = {("pd", "read_csv"), ("yaml", "safe_load"), ("yaml", "load"), ("json", "load")}
# (module, function): why it may read without the boundary. Nothing else may.
ALLOWED_READS = {
    ("boundary.py", "*"): "the boundary itself",
    ("synthetic.py", "*"): "reads only the tool's own bundled package, as the template of synthetic data",
    ("profiles.py", "_read"): "reads the official profiles installed with dplib-py, never a package's file",
    ("cache.py", "_own_code"): "hashes the tool's own installed modules for the cache key, never a package's file",
}


def _is_write(call: ast.Call) -> bool:
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax+")


def _in_memory(call: ast.Call) -> bool:
    """A reader given bytes or text already read (io.BytesIO(...), io.StringIO(...)), not a path."""
    first = call.args[0] if call.args else None
    return isinstance(first, ast.Call) and ast.unparse(first.func) in ("io.BytesIO", "io.StringIO")


def raw_reads(tree: ast.AST) -> list[tuple[str, int]]:
    """(enclosing function, line) of every call that opens or reads a file without the boundary."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Name) and func.id == "open" and not _is_write(child):
                    found.append((name, child.lineno))
                elif isinstance(func, ast.Attribute):
                    owner = func.value.id if isinstance(func.value, ast.Name) else None
                    if func.attr in READ_METHODS or ((owner, func.attr) in READERS and not _in_memory(child)):
                        found.append((name, child.lineno))
                    elif (owner, func.attr) == ("os", "open") and "O_RDONLY" in ast.unparse(child):
                        if "O_DIRECTORY" not in ast.unparse(child) and name not in ("_fsync_dir", "write_atomic"):
                            found.append((name, child.lineno))
            visit(child, name)

    visit(tree, "<module>")
    return found


def test_no_module_reads_a_file_outside_the_boundary() -> None:
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = path.relative_to(SOURCE).as_posix()
        for function, line in raw_reads(ast.parse(path.read_text(encoding="utf-8"))):
            if (module, "*") not in ALLOWED_READS and (module, function) not in ALLOWED_READS:
                offenders.append(f"{module}:{line} in {function}()")
    assert offenders == [], "read package files through uslatam.boundary: " + ", ".join(offenders)


def test_the_read_guard_finds_raw_reads() -> None:
    sample = (
        "def f(root):\n"
        "    a = (root / 'x').read_text()\n"
        "    with open(root / 'y') as h: pass\n"
        "    with open(root / 'z', 'wb') as h: pass\n"
        "    pd.read_csv(root / 'w')\n"
    )
    assert raw_reads(ast.parse(sample)) == [("f", 2), ("f", 3), ("f", 5)]


def test_every_allowed_read_still_exists() -> None:
    """An exception that no longer matches anything is removed, so the list cannot rot."""
    for module, function in ALLOWED_READS:
        if function != "*":
            reads = raw_reads(ast.parse((SOURCE / module).read_text(encoding="utf-8")))
            assert function in {name for name, _ in reads}, (module, function)
