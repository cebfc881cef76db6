"""Rendering a validation report: for a terminal, as JSON, or as GitHub annotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..coverage import Coverage
from ..report import Report

ANNOTATIONS_PER_CODE = 10


def as_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def _style(text: str, colour: str | None, enabled: bool, bold: bool = False) -> str:
    if not enabled:
        return text
    import typer

    return typer.style(text, fg=colour, bold=bold)


def as_text(report: Report, *, colour: bool) -> str:
    lines = []
    errors = len(report.errors)
    warnings = len(report.findings) - errors
    rows = sum(report.tables.values())
    if report.valid:
        head = f"valid: {report.package} ({len(report.tables)} tables, {rows} rows)"
        if warnings:
            head += f", {warnings} warning(s)"
        lines.append(_style(head, "green", colour, bold=True))
    else:
        lines.append(
            _style(f"invalid: {report.package}: {errors} error(s), {warnings} warning(s)", "red", colour, bold=True)
        )
    if report.findings:
        lines.append("  " + ", ".join(f"{code} {count}" for code, count in report.counts().items()))
    if report.cached:
        lines.append("  (from .uslatam/cache/: no input changed since the run that made it; --no-cache for a full run)")
    elif report.reused:
        lines.append(
            f"  ({len(report.reused)} of {len(report.tables)} tables taken from .uslatam/tables/, unchanged since "
            "a run that read and checked them; every other check ran; --no-cache reads every table)"
        )
    groups: dict[str, list] = {}
    for finding in report.findings:
        groups.setdefault(finding.table or finding.file or "package", []).append(finding)
    for group, findings in groups.items():
        lines.append("")
        lines.append(_style(group, None, colour, bold=True))
        for f in findings:
            where = f.file or ""
            if f.line is not None:
                where += f":{f.line}"
            if f.column:
                where += f" [{f.column}]"
            colour_of = "red" if f.severity == "error" else "yellow"
            lines.append(f"  {where} {_style(f.code, colour_of, colour)}: {_shortened(f.message)}")
            if f.value is not None:
                lines.append(f"      value:    {_shortened(repr(f.value))}")
            if f.expected is not None:
                lines.append(f"      expected: {_shortened(str(f.expected))}")
            lines.append(f"      fix:      {f.hint}")
    return "\n".join(lines)


SHOWN_CHARACTERS = 300  # of a message, value or expected value on a terminal; JSON keeps them whole


def _shortened(text: str) -> str:
    """A long text's start and its length: a 100,000-character cell is one line, not a screenful."""
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}… ({len(text):,} characters; --format json shows all)"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(report: Report, root: Path) -> str:
    """Workflow commands, every value escaped so that a cell cannot forge a command."""
    from ..csvio import cell_column

    lines: list[str] = []
    shown: dict[str, int] = {}
    hidden: dict[str, int] = {}
    file_lines: dict[str, list[str]] = {}
    for f in report.findings:
        shown[f.code] = shown.get(f.code, 0) + 1
        if shown[f.code] > ANNOTATIONS_PER_CODE:
            hidden[f.code] = hidden.get(f.code, 0) + 1
            continue
        properties = []
        if f.file:
            properties.append(f"file={_escape_property(f.file)}")
        if f.line is not None:
            properties.append(f"line={f.line}")
            column = _column(f, root, file_lines, cell_column)
            if column:
                properties.append(f"col={column}")
        properties.append(f"title={_escape_property(f.code)}")
        message = _shortened(f.message)
        if f.column:
            message = f"[{f.column}] {message}"
        if f.value is not None:
            message += f" (value {_shortened(repr(f.value))})"
        message += f". Fix: {f.hint}"
        command = "error" if f.severity == "error" else "warning"
        lines.append(f"::{command} {','.join(properties)}::{_escape_data(message)}")
    for code, count in hidden.items():
        lines.append(
            f"::notice title={_escape_property(code)}::"
            + _escape_data(f"{count} more {code} finding(s) not annotated; run `uslatam validate` to see all")
        )
    verdict = "valid" if report.valid else f"invalid: {len(report.errors)} error(s)"
    lines.append(_escape_data(f"uslatam validate: {verdict}"))
    return "\n".join(lines)


def _column(finding, root: Path, cache: dict, cell_column) -> int | None:
    if not finding.file or not finding.column or not finding.file.endswith(".csv"):
        return None
    if finding.file not in cache:
        from ..boundary import DEFAULT_LIMITS, Refused, package_text

        try:
            text = package_text(root, finding.file, what="a file", limit=DEFAULT_LIMITS.max_file_bytes)
            cache[finding.file] = text.split("\n")
        except Refused:
            cache[finding.file] = []
    lines = cache[finding.file]
    if not lines or finding.line is None or finding.line > len(lines):
        return None
    header = lines[0].split(",")
    if finding.column not in header:
        return None
    return cell_column(lines[finding.line - 1], header.index(finding.column))


def coverage_text(result: Coverage) -> str:
    """Per source, its uncovered units with their offsets, and a count per kind."""
    lines = []
    for source in result.sources:
        found = ", ".join(f"{count} {kind}(s)" for kind, count in source.units.items())
        state = "covered" if not source.uncovered else f"{len(source.uncovered)} uncovered"
        lines.append(f"{source.source_id} (body {source.body_start}..{source.body_end}: {found}): {state}")
        for unit in source.uncovered:
            lines.append(f"  {unit.start}..{unit.end} {unit.kind}: {unit.words!r}")
    verdict = "every unit is cited or excluded" if result.complete else f"{len(result.uncovered)} unit(s) uncovered"
    lines.append(f"uslatam coverage: {verdict}")
    return "\n".join(lines)


def coverage_github(result: Coverage) -> str:
    """One warning per uncovered unit, at its line and column of the stored text, every value escaped."""
    lines = []
    for source in result.sources:
        for unit in source.uncovered:
            line, column = unit.line, unit.column
            properties = f"file={_escape_property(source.text_path)},line={line},col={column}"
            properties += f",title={_escape_property('uncovered ' + unit.kind)}"
            message = f"{unit.kind} at {unit.start}..{unit.end} is cited by no row and covered by no exclusion: "
            lines.append(f"::warning {properties}::{_escape_data(message + repr(unit.words))}")
    verdict = "complete" if result.complete else f"{len(result.uncovered)} unit(s) uncovered"
    lines.append(_escape_data(f"uslatam coverage: {verdict}"))
    return "\n".join(lines)


def colour_enabled(stream) -> bool:
    """Colour only for a terminal (not a file, a pipe, or no stream at all: a process started with ``>&-``)."""
    return stream is not None and stream.isatty() and "NO_COLOR" not in os.environ


def _cells(cells: dict) -> str:
    return "; ".join(f"{column}: {old!r} -> {new!r}" for column, (old, new) in cells.items())


def diff_text(diff) -> str:
    """A diff for a terminal: it reads like a changelog entry."""
    if diff.empty:
        return f"no differences between {diff.old} and {diff.new}\n"
    lines = [f"{diff.old} -> {diff.new}: requires a {diff.bump()} release", ""]
    if diff.schema:
        lines.append("Schema")
        lines += [f"  {c.table}: {c.detail} ({c.bump})" for c in diff.schema]
        lines.append("")
    if diff.metadata:
        lines.append("Metadata")
        lines += [f"  {m}" for m in diff.metadata]
        lines.append("")
    for table in diff.tables.values():
        if table.empty:
            continue
        lines.append(
            f"{table.name}: {len(table.added)} added, {len(table.removed)} removed"
            f" ({len(table.retracted)} retracted), {len(table.changed)} changed"
        )
        key = table.key_columns
        lines += [f"  + {'|'.join(r.get(k, '') for k in key)}" for r in table.added]
        lines += [f"  - {'|'.join(r.get(k, '') for k in key)}" for r in table.removed]
        lines += [f"  ~ {c.key}: {_cells(c.cells)}" for c in table.changed]
    return "\n".join(lines) + "\n"


def diff_markdown(diff) -> str:
    """A diff as a pull-request comment."""
    if diff.empty:
        return f"No differences between `{diff.old}` and `{diff.new}`.\n"
    lines = [f"### Data changes `{diff.old}` → `{diff.new}`", "", f"Requires a **{diff.bump()}** release.", ""]
    if diff.schema or diff.metadata:
        lines += ["| table | schema or metadata change | bump |", "|---|---|---|"]
        lines += [f"| `{c.table}` | {c.detail} | {c.bump} |" for c in diff.schema]
        lines += [f"| | {m} | patch |" for m in diff.metadata]
        lines.append("")
    rows = [t for t in diff.tables.values() if not t.empty]
    if rows:
        lines += ["| table | added | removed | retracted | changed |", "|---|---:|---:|---:|---:|"]
        lines += [
            f"| `{t.name}` | {len(t.added)} | {len(t.removed)} | {len(t.retracted)} | {len(t.changed)} |" for t in rows
        ]
        lines.append("")
        for table in rows:
            if table.changed:
                lines += [f"<details><summary>{table.name}: changed cells</summary>", ""]
                lines += [f"- `{c.key}`: {_cells(c.cells)}" for c in table.changed]
                lines += ["", "</details>", ""]
    return "\n".join(lines)


class ProgressLine:
    """One status line on a terminal, rewritten after each table: table, rows, time spent and left.

    Only for a terminal: ``on`` returns None for a pipe or file, so logs and CI stay clean.
    """

    def __init__(self, stream, clock=None):
        import time

        self.stream = stream
        self.clock = clock or time.monotonic
        self.started = self.clock()
        self.first: tuple[float, int] | None = None  # (time, bytes done) at the first table: the rate's start
        self.shown = False

    @classmethod
    def on(cls, stream) -> ProgressLine | None:
        return cls(stream) if hasattr(stream, "isatty") and stream.isatty() else None

    def __call__(self, progress) -> None:
        now = self.clock()
        spent = now - self.started
        line = (
            f"[{progress.tables_done}/{progress.tables_total}] {progress.table}: {progress.rows:,} rows · {spent:.1f} s"
        )
        # The time left is the rate since the first table times the bytes left: the time before the
        # first table (imports, the descriptor) says nothing of the rate, and one table is no rate yet.
        if self.first is None:
            self.first = (now, progress.bytes_done)
            line += " · estimating the time left"
        elif progress.bytes_done > self.first[1]:
            rate = (now - self.first[0]) / (progress.bytes_done - self.first[1])
            line += f" · about {rate * max(progress.bytes_total - progress.bytes_done, 0):.0f} s left"
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
