"""Benchmark: `uslatam validate` against `frictionless validate` and a pyarrow parse, at growing sizes.

For each size (rows per table) it writes a synthetic package, and one with as many bad
cells as 1% of a table's rows (bad types and enum codes over six tables), then measures,
in this one run on this one machine, the whole-process wall time (median of --repeat
runs; --repeat-frictionless for frictionless, which is slow) and the peak resident
memory of each command, and prints the ratios between them.
Figures are for docs/performance.md; never a timed test (shared machines are noisy).

    python scripts/bench_validate.py                        # 10,000 / 100,000 / 1,000,000 rows per table
    python scripts/bench_validate.py --sizes 10000 --repeat 3  # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = """
import glob, sys
from pyarrow import csv
for path in sorted(glob.glob(sys.argv[1] + "/data/*.csv")):
    csv.read_csv(path, parse_options=csv.ParseOptions(newlines_in_values=True))
"""


def generate(target: Path, rows: int, defects: dict[str, int]) -> None:
    """In a child process: a fork of a process that holds pandas would count its memory as the child's peak."""
    code = f"from uslatam.synthetic import generate; generate({str(target)!r}, {rows}, seed=1, defects={defects!r})"
    subprocess.run([sys.executable, "-c", code], check=True)


def measure(command: list[str], repeat: int) -> tuple[float, float, int]:
    """(median seconds, peak MiB over the runs, exit code of the last run) of a whole process."""
    times, peaks, code = [], [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - started)
        peaks.append(usage.ru_maxrss / 1024)  # kilobytes on Linux
        code = os.waitstatus_to_exitcode(status)
    return statistics.median(times), max(peaks), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of uslatam and the floor per size")
    parser.add_argument("--repeat-frictionless", type=int, default=None, help="default: --repeat, once at 1M")
    parser.add_argument("--workdir", type=Path, default=None, help="where packages are written (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated packages")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    uslatam, frictionless = str(bin_dir / "uslatam"), str(bin_dir / "frictionless")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="uslatam-bench-"))
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"# command: python scripts/bench_validate.py --sizes {' '.join(map(str, args.sizes))} --repeat {args.repeat}"
    )
    help_time, _, _ = measure([uslatam, "--help"], 10)
    print(f"uslatam --help: {help_time:.2f} s (median of 10)")
    print()
    header = (
        "| rows per table | CSV MB | uslatam s | uslatam MB | 1% bad cells s | frictionless s | frictionless MB "
        "| pyarrow floor s | floor MB | frictionless / uslatam | uslatam / floor | bad / clean |"
    )
    print(header)
    print("|" + "---:|" * 12)
    for rows in args.sizes:
        clean, dirty = workdir / f"clean-{rows}", workdir / f"bad-{rows}"
        for folder in (clean, dirty):
            shutil.rmtree(folder, ignore_errors=True)
        generate(clean, rows, {})
        generate(dirty, rows, {"type": rows // 200, "enum": rows // 200})
        size = sum(p.stat().st_size for p in (clean / "data").glob("*.csv")) / 1e6
        ours, ours_mb, code = measure([uslatam, "validate", "--quiet", str(clean)], args.repeat)
        assert code == 0, f"the clean package is not valid (exit {code})"
        bad, _, code = measure([uslatam, "validate", "--quiet", str(dirty)], args.repeat)
        assert code == 1, f"the package with bad cells is not reported invalid (exit {code})"
        repeat_f = args.repeat_frictionless or (1 if rows >= 1_000_000 else args.repeat)
        theirs, theirs_mb, _ = measure([frictionless, "validate", str(clean / "datapackage.json")], repeat_f)
        floor, floor_mb, _ = measure([sys.executable, "-c", FLOOR, str(clean)], args.repeat)
        print(
            f"| {rows:,} | {size:,.0f} | {ours:.1f} | {ours_mb:,.0f} | {bad:.1f} | {theirs:.1f} | {theirs_mb:,.0f} "
            f"| {floor:.1f} | {floor_mb:,.0f} | {theirs / ours:.1f}× | {ours / floor:.1f}× | {bad / ours:.2f}× |",
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(clean)
            shutil.rmtree(dirty)
    print()
    print(
        f"# frictionless runs per size: {args.repeat_frictionless or args.repeat} (1 at 1,000,000 rows); "
        "times are medians, memory the peak RSS of the whole process"
    )


if __name__ == "__main__":
    main()
