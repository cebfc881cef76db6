"""The project's one CSV dialect: UTF-8 without BOM, LF line ends, minimal quoting.

Every CSV the project writes goes through :func:`write_rows`, so that adding rows
changes only the added lines and ``git diff`` stays readable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .boundary import DEFAULT_LIMITS, Refused, read_bytes
from .report import Finding


def format_cell(value: object) -> str:
    """The canonical text of one cell: empty for missing, integers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN is missing
            return ""
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def dumps(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render a header and rows as canonical CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([format_cell(value) for value in row])
    return buffer.getvalue()


def write_rows(path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write canonical CSV to ``path`` (not atomically: callers that must be atomic stage it)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(dumps(header, rows))


# --- strict reading -----------------------------------------------------------------

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class RawTable:
    """A CSV file read strictly: cells as text, and the physical line where each record starts."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    findings: list[Finding] = field(default_factory=list)
    readable: bool = True


def stray_quote(raw: str) -> tuple[int, int] | None:
    """(index, cell number) of a quotation mark inside an unquoted cell of one record's text, or None.

    Python's csv module reads ``a,b"c`` as the cell ``b"c``; RFC 4180 (and this
    project's writer) quote any cell holding a quotation mark, so such a mark is a
    broken edit, often of a cell that was meant to be quoted.
    """
    at_field_start, quoted, position, cell = True, False, 0, 0
    while position < len(raw):
        char = raw[position]
        if quoted:
            if char == '"':
                if raw[position + 1 : position + 2] == '"':
                    position += 1
                else:
                    quoted = False
        elif char == '"':
            if not at_field_start:
                return position, cell
            quoted = True
        at_field_start = char in ",\n" and not quoted
        cell += char == "," and not quoted
        position += 1
    return None


def line_of_offset(data: bytes | str, offset: int) -> int:
    if isinstance(data, bytes):
        return data.count(b"\n", 0, offset) + 1
    return data.count("\n", 0, offset) + 1


def read_table(
    file: Path,
    *,
    table: str,
    relpath: str,
    max_cell_chars: int,
    max_columns: int,
    max_bytes: int = DEFAULT_LIMITS.max_file_bytes,
) -> RawTable:
    """Read ``file`` as the project's CSV dialect, reporting what breaks it.

    ``readable`` is false when the file cannot be parsed into records at all
    (bad encoding, NUL bytes, an unterminated quote); the rows read are then unusable.
    """
    result = RawTable(header=[], rows=[], lines=[])

    def report(code: str, message: str, line: int | None, **extra) -> None:
        result.findings.append(Finding(code, message, table=table, file=relpath, line=line, **extra))

    try:
        raw = read_bytes(file, name=relpath, limit=max_bytes, table=table)
    except Refused as refused:
        result.findings.append(refused.finding)
        result.readable = False
        return result
    if raw.startswith(_UTF16_BOMS):
        report("encoding-error", "the file is UTF-16, not UTF-8", 1, expected="UTF-8")
        result.readable = False
        return result
    if raw.startswith(_UTF8_BOM):
        report("byte-order-mark", "the file starts with a UTF-8 byte order mark", 1)
        raw = raw[len(_UTF8_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start : error.start + 1].hex()
        report(
            "encoding-error",
            f"invalid UTF-8 byte 0x{bad} at byte {error.start} of the file",
            line_of_offset(raw, error.start),
            value=f"0x{bad}",
            expected="UTF-8",
        )
        result.readable = False
        return result
    nul = text.find("\x00")
    if nul != -1:
        report("csv-syntax-error", "the file contains a NUL byte", line_of_offset(text, nul), value="\\x00")
        result.readable = False
        return result
    crlf = text.find("\r")
    if crlf != -1:
        report(
            "line-ending-error",
            "the file has CR line ends (CR LF or lone CR), not LF",
            line_of_offset(text, crlf),
            expected="LF",
        )
    if text and not text.endswith("\n"):
        report("missing-final-newline", "the file does not end with a line end", line_of_offset(text, len(text)))

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    physical = text.split("\n")
    previous_line = 0
    header_read = False
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as error:
            message = str(error)
            if "field larger than field limit" in message:
                report(
                    "cell-too-large",
                    f"a cell is longer than the limit of {max_cell_chars} characters",
                    previous_line + 1,
                    expected=f"<= {max_cell_chars} characters",
                )
            else:
                report("csv-syntax-error", f"CSV syntax error: {message}", previous_line + 1)
            result.readable = False
            return result
        start_line = previous_line + 1
        previous_line = reader.line_num
        if not header_read:
            header_read = True
            result.header = record
            if len(record) > max_columns:
                report(
                    "too-many-columns",
                    f"the header has {len(record)} columns; the limit is {max_columns}",
                    1,
                    value=str(len(record)),
                    expected=f"<= {max_columns}",
                )
                result.readable = False
                return result
            continue
        result.rows.append(record)
        result.lines.append(start_line)
        if any('"' in cell for cell in record):
            record_text = "\n".join(physical[start_line - 1 : previous_line])
            stray = stray_quote(record_text)
            if stray is not None:
                mark, cell_number = stray
                report(
                    "csv-syntax-error",
                    'a quotation mark inside an unquoted cell: quote the whole cell and double the mark ("")',
                    start_line + record_text.count("\n", 0, mark),
                    column=result.header[cell_number] if cell_number < len(result.header) else None,
                    value=record_text[max(0, mark - 20) : mark + 20],  # the record's text around the mark
                )
        for position, cell in enumerate(record):
            if len(cell) > max_cell_chars:
                column = result.header[position] if position < len(result.header) else None
                report(
                    "cell-too-large",
                    f"a cell of {len(cell)} characters; the limit is {max_cell_chars}",
                    start_line,
                    column=column,
                    value=cell[:40] + "…",
                    expected=f"<= {max_cell_chars} characters",
                )
                result.readable = False  # oversized input is answered at once, not carried through every layer
                return result
    if not header_read:
        report("missing-label", "the file is empty: it has no header", 1)
        result.readable = False
    return result


def check_shape(raw: RawTable, field_names: list[str], *, table: str, relpath: str) -> list[Finding]:
    """Header against the schema's fields, and every row against the header."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for position, label in enumerate(raw.header):
        expected = field_names[position] if position < len(field_names) else None
        column = expected or label
        if label.strip() == "":
            findings.append(
                Finding(
                    "blank-label",
                    f"header cell {position + 1} is empty",
                    table=table,
                    file=relpath,
                    line=1,
                    column=column,
                    expected=expected,
                )
            )
        elif label in seen:
            findings.append(
                Finding(
                    "duplicate-label",
                    f"the header repeats {label!r}",
                    table=table,
                    file=relpath,
                    line=1,
                    column=column,
                    value=label,
                    expected=expected,
                )
            )
        elif expected is None:
            findings.append(
                Finding(
                    "extra-label",
                    f"the header has an extra column {label!r}",
                    table=table,
                    file=relpath,
                    line=1,
                    column=label,
                    value=label,
                )
            )
        elif label != expected:
            findings.append(
                Finding(
                    "incorrect-label",
                    f"header cell {position + 1} is {label!r}, the schema says {expected!r}",
                    table=table,
                    file=relpath,
                    line=1,
                    column=expected,
                    value=label,
                    expected=expected,
                )
            )
        seen.add(label)
    for position in range(len(raw.header), len(field_names)):
        findings.append(
            Finding(
                "missing-label",
                f"the header lacks the column {field_names[position]!r}",
                table=table,
                file=relpath,
                line=1,
                column=field_names[position],
                expected=field_names[position],
            )
        )
    width = len(raw.header)
    for record, line in zip(raw.rows, raw.lines):
        if not any(cell.strip() for cell in record):
            findings.append(Finding("blank-row", "the row is empty", table=table, file=relpath, line=line))
        elif len(record) > width:
            findings.append(
                Finding(
                    "extra-cell",
                    f"the row has {len(record)} cells, the header {width}",
                    table=table,
                    file=relpath,
                    line=line,
                    value=record[width],
                    expected=f"{width} cells",
                )
            )
        elif len(record) < width:
            findings.append(
                Finding(
                    "missing-cell",
                    f"the row has {len(record)} cells, the header {width}",
                    table=table,
                    file=relpath,
                    line=line,
                    column=raw.header[len(record)],
                    expected=f"{width} cells",
                )
            )
    return findings


def cell_column(line: str, field_index: int) -> int | None:
    """1-based character column where cell ``field_index`` starts on a physical CSV line.

    None when the line ends (inside a quoted cell spanning lines) before that cell.
    """
    position, in_quotes, cell = 0, False, 0
    if field_index == 0:
        return 1
    while position < len(line):
        char = line[position]
        if in_quotes:
            if char == '"':
                if position + 1 < len(line) and line[position + 1] == '"':
                    position += 1
                else:
                    in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == ",":
            cell += 1
            if cell == field_index:
                return position + 2
        position += 1
    return None
