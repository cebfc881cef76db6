"""Benchmark: `uslatam validate` beside its peers, on the real package and on synthetic ones, in one run.

Each package is validated (or read) by every command below as a whole process, the commands
taking turns run after run so that a change in the machine's load falls on all of them alike.
Each figure is the median over --repeat runs (frictionless: once at 1,000,000 rows a table and
more, where one run takes ten minutes) of the CPU seconds (user + system, the process and
its children, from ``os.wait4``), the wall seconds and the peak resident memory.

- uslatam: `uslatam validate --quiet --no-cache`, every layer run in full (the default engines);
- uslatam, nothing changed: the same with the cache, after one run filled it: what a repeated
  run (pre-commit after a commit of code or docs, a second look) pays;
- uslatam, 1% bad cells: the same package with bad types and enum codes in as many cells as
  1% of a table's rows, every one of them a finding;
- uslatam --since, 10 rows changed: `uslatam validate --quiet --since HEAD` in a git copy of the
  package whose tables were kept by an earlier run, after 10 rows of ``claims`` were changed
  (a new change before every run, so that the changed table is never found kept): what a pull
  request's CI run pays;
- uslatam --since, keeping every table: the same with nothing kept (``.uslatam/tables`` removed
  before every run): what the main branch's run pays to keep the tables for pull requests;
- frictionless: `frictionless validate datapackage.json`;
- polars checks: scripts/polars_checks.py, the declared Table Schema checks in plain polars
  (what a user would write instead; it checks less than uslatam);
- uslatam's imports: importing what `uslatam validate` imports on a small package and
  validating nothing (the part of its time no amount of checking faster can remove);
- polars floor, pyarrow floor: reading every CSV and checking nothing.

Our own modules are compiled to bytecode first, as an installation compiles the peers', so no
run pays for compiling them (PYTHONDONTWRITEBYTECODE would otherwise make every run do so).
Figures are for docs/performance.md; speed is never asserted in a test.

    python scripts/bench_validate.py                               # the real package, 100,000 and 1,000,000 rows
    python scripts/bench_validate.py --sizes 10000 --repeat 3      # a quick look
    python scripts/bench_validate.py --sizes 100000 1000000 3000000 --only uslatam   # the memory curve
    python scripts/bench_validate.py --frictionless-below 1000000  # all but frictionless's ten minutes at 1M
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLARS_FLOOR = """
import glob, sys
import polars as pl
for path in sorted(glob.glob(sys.argv[1] + "/data/*.csv")):
    pl.read_csv(path, infer_schema=False)
"""
PYARROW_FLOOR = """
import glob, sys
from pyarrow import csv
for path in sorted(glob.glob(sys.argv[1] + "/data/*.csv")):
    csv.read_csv(path, parse_options=csv.ParseOptions(newlines_in_values=True))
"""
# as `uslatam validate` imports them (the collector off, numpy's BLAS on one thread) and ends
# (without tearing the interpreter down)
IMPORTS = (
    "import gc, os; gc.disable(); os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); "
    "import pandera.pandas, pyarrow.csv, typer, uslatam.validate, uslatam.cli.app; os._exit(0)"
)
COMMANDS = (
    "uslatam",
    "uslatam, nothing changed",
    "uslatam, 1% bad cells",
    "uslatam --since, 10 rows changed",
    "uslatam --since, keeping every table",
    "uslatam's imports",
    "frictionless",
    "polars checks",
    "polars floor",
    "pyarrow floor",
)


@dataclass
class Run:
    cpu: float
    wall: float
    peak_mb: float
    code: int


def run(command: list[str]) -> Run:
    """One whole process: its CPU (user + system, children included), wall time, peak RSS and exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))


def generate(target: Path, rows: int, defects: dict[str, int]) -> None:
    """In a child process, so that the generator's memory is never counted as a measured child's."""
    code = f"from uslatam.synthetic import generate; generate({str(target)!r}, {rows}, seed=1, defects={defects!r})"
    subprocess.run([sys.executable, "-c", code], check=True)


CHANGED_TABLE, CHANGED_COLUMN, CHANGED_ROWS = "claims", "summary", 10


def git_copy(package: Path, target: Path) -> Path:
    """The package's own files in a new git repository of one commit, as a pull request's checkout has."""
    from uslatam.package import copy_package

    shutil.rmtree(target, ignore_errors=True)
    copy_package(package, target)
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=bench", "-c", "user.email=bench@example.org", "commit", "-qm", "the package"],
    ):
        subprocess.run(["git", "-C", str(target), *args], check=True, capture_output=True)
    return target


def change_rows(package: Path, turn: int) -> None:
    """Change CHANGED_ROWS rows of CHANGED_TABLE (a free-text cell each), differently at every turn."""
    import csv
    import io

    from uslatam.package import refresh_integrity

    path = package / "data" / f"{CHANGED_TABLE}.csv"
    with open(path, encoding="utf-8", newline="") as stream:
        head = [next(stream) for _ in range(CHANGED_ROWS + 1)]
        rest = stream.read()
    rows = list(csv.reader(io.StringIO("".join(head))))
    column = rows[0].index(CHANGED_COLUMN)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        row[column] = f"{row[column].split(' (edit ')[0]} (edit {turn})"
        writer.writerow(row)
    path.write_text(out.getvalue() + rest, encoding="utf-8")
    refresh_integrity(package)  # as `uslatam rehash` (or `uslatam add`) records the table's new bytes and hash


def change_rows_apart(package: Path, turn: int) -> None:
    """:func:`change_rows` in a child process: a measured child's peak memory counts its parent's
    (Linux records the parent's at exec), so the benchmark itself never reads a large table."""
    code = f"import bench_validate; bench_validate.change_rows(__import__('pathlib').Path({str(package)!r}), {turn})"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)


def commands(package: Path, dirty: Path | None, incremental: Path | None) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    uslatam = [str(bin_dir / "uslatam"), "validate", "--quiet", "--no-cache", "--package"]
    cached = [str(bin_dir / "uslatam"), "validate", "--quiet", "--cache", "--package"]
    listed = {
        "uslatam": [*uslatam, str(package)],
        "uslatam, nothing changed": [*cached, str(package)],
        "frictionless": [str(bin_dir / "frictionless"), "validate", str(package / "datapackage.json")],
        "polars checks": [sys.executable, str(ROOT / "scripts" / "polars_checks.py"), str(package)],
        "polars floor": [sys.executable, "-c", POLARS_FLOOR, str(package)],
        "pyarrow floor": [sys.executable, "-c", PYARROW_FLOOR, str(package)],
    }
    if incremental is not None:
        since = [str(bin_dir / "uslatam"), "validate", "--quiet", "--since", "HEAD", "--package", str(incremental)]
        listed["uslatam --since, 10 rows changed"] = since
        listed["uslatam --since, keeping every table"] = since
    if dirty is not None:
        listed["uslatam, 1% bad cells"] = [*uslatam, str(dirty)]
    else:  # the real package: what the everyday case pays before it checks anything
        listed["uslatam's imports"] = [sys.executable, "-c", IMPORTS]
    return listed


EXPECTED_EXIT = {
    "uslatam": 0,
    "uslatam, 1% bad cells": 1,
    "frictionless": 0,
    "polars checks": 0,
    "uslatam --since, 10 rows changed": 0,
    "uslatam --since, keeping every table": 0,
}
WARMED = "uslatam, nothing changed"  # run once before the measured runs: they find its report in the cache


def measure(
    listed: dict[str, list[str]], repeat: int, repeat_frictionless: int, incremental: Path | None = None
) -> dict[str, list[Run]]:
    """Every command run ``repeat`` times, taking turns; an unexpected exit code stops the benchmark."""
    runs: dict[str, list[Run]] = {name: [] for name in listed}
    if WARMED in listed:
        run(listed[WARMED])
    prepare = {}
    if incremental is not None and "uslatam --since, 10 rows changed" in listed:
        kept = incremental / ".uslatam" / "tables"
        prepare = {
            "uslatam --since, 10 rows changed": lambda turn: change_rows_apart(incremental, turn),
            "uslatam --since, keeping every table": lambda turn: shutil.rmtree(kept, ignore_errors=True),
        }
        run(listed["uslatam --since, 10 rows changed"])  # keeps every table, as main's run did
    for turn in range(repeat):
        for name, command in listed.items():
            if name == "frictionless" and turn >= repeat_frictionless:
                continue
            if name in prepare:
                prepare[name](turn + 1)  # turn 0 was the warm-up's
            result = run(command)
            expected = EXPECTED_EXIT.get(name, 0)
            if result.code != expected:
                sys.exit(f"{name} exited {result.code}, not {expected}: {' '.join(command)}")
            runs[name].append(result)
    return runs


def median(runs: list[Run], attribute: str) -> float:
    return statistics.median(getattr(r, attribute) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000], help="rows per table")
    parser.add_argument("--no-real", action="store_true", help="skip the real package (this checkout)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command per package (median)")
    parser.add_argument("--repeat-frictionless", type=int, default=None, help="default: --repeat; 1 from 1M rows")
    parser.add_argument("--only", nargs="+", choices=COMMANDS, default=None, help="measure only these commands")
    parser.add_argument(
        "--frictionless-below",
        type=int,
        default=None,
        help="run frictionless only on packages of fewer rows a table (it takes ten minutes at 1,000,000)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where packages are written (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated packages")
    args = parser.parse_args()

    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="uslatam-bench-"))
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"# one-minute load average at the start: {os.getloadavg()[0]:.2f}")
    print(f"# command: python scripts/bench_validate.py {' '.join(sys.argv[1:])}")
    print(f"# medians of {args.repeat} runs (frictionless: 1 from 1,000,000 rows a table); CPU = user + system")
    print()
    print("| package | rows a table | CSV MB | command | CPU s | wall s | peak MB | runs |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    packages: list[tuple[str, int, Path, Path | None]] = []
    if not args.no_real:
        packages.append(("the real package", 0, ROOT, None))
    try:
        for rows in args.sizes:
            clean, dirty = workdir / f"clean-{rows}", workdir / f"bad-{rows}"
            for folder in (clean, dirty):
                shutil.rmtree(folder, ignore_errors=True)
            generate(clean, rows, {})
            generate(dirty, rows, {"type": rows // 200, "enum": rows // 200})
            packages.append(("synthetic, seed 1", rows, clean, dirty))
        for label, rows, clean, dirty in packages:
            incremental = git_copy(clean, workdir / f"incremental-{rows}")
            listed = commands(clean, dirty, incremental)
            if args.only:
                listed = {name: command for name, command in listed.items() if name in args.only}
            if args.frictionless_below is not None and rows >= args.frictionless_below:
                listed.pop("frictionless", None)
            once = 1 if rows >= 1_000_000 else args.repeat
            runs = measure(listed, args.repeat, args.repeat_frictionless or once, incremental)
            size = sum(p.stat().st_size for p in (clean / "data").glob("*.csv")) / 1e6
            rows_text = f"{rows:,}" if rows else "—"
            for name, results in runs.items():
                print(
                    f"| {label} | {rows_text} | {size:,.1f} | {name} | {median(results, 'cpu'):.2f} "
                    f"| {median(results, 'wall'):.2f} | {max(r.peak_mb for r in results):,.0f} | {len(results)} |",
                    flush=True,
                )
            if not args.keep:
                shutil.rmtree(incremental)
            if rows and not args.keep:
                shutil.rmtree(clean)
                if dirty is not None:
                    shutil.rmtree(dirty)
    finally:
        if args.workdir is None and not args.keep:  # the temp dir is ours: leave nothing behind
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
