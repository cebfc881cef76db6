"""Rendering a validation report: for a terminal, as JSON, or as GitHub annotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
        lines.append(_style(f"invalid: {report.package}: {errors} error(s), {warnings} warning(s)",
                            "red", colour, bold=True))
    if report.findings:
        lines.append("  " + ", ".join(f"{code} {count}" for code, count in report.counts().items()))
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
            lines.append(f"  {where} {_style(f.code, colour_of, colour)}: {f.message}")
            if f.value is not None:
                lines.append(f"      value:    {f.value!r}")
            if f.expected is not None:
                lines.append(f"      expected: {f.expected}")
            lines.append(f"      fix:      {f.hint}")
    return "\n".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(report: Report, root: Path) -> str:
    """Workflow commands, every value escaped so that a cell cannot forge a command."""
    from ..csvio import cell_column

    lines, shown, hidden = [], {}, {}
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
        message = f"{f.message}"
        if f.column:
            message = f"[{f.column}] {message}"
        if f.value is not None:
            message += f" (value {f.value!r})"
        message += f". Fix: {f.hint}"
        command = "error" if f.severity == "error" else "warning"
        lines.append(f"::{command} {','.join(properties)}::{_escape_data(message)}")
    for code, count in hidden.items():
        lines.append(f"::notice title={_escape_property(code)}::"
                     + _escape_data(f"{count} more {code} finding(s) not annotated; run `uslatam validate` to see all"))
    verdict = "valid" if report.valid else f"invalid: {len(report.errors)} error(s)"
    lines.append(_escape_data(f"uslatam validate: {verdict}"))
    return "\n".join(lines)


def _column(finding, root: Path, cache: dict, cell_column) -> int | None:
    if not finding.file or not finding.column or not finding.file.endswith(".csv"):
        return None
    if finding.file not in cache:
        try:
            cache[finding.file] = (root / finding.file).read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError):
            cache[finding.file] = []
    lines = cache[finding.file]
    if not lines or finding.line is None or finding.line > len(lines):
        return None
    header = lines[0].split(",")
    if finding.column not in header:
        return None
    return cell_column(lines[finding.line - 1], header.index(finding.column))


def colour_enabled(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ
