"""The project's one CSV dialect: UTF-8 without BOM, LF line ends, minimal quoting.

Every CSV the project writes goes through :func:`write_rows`, so that adding rows
changes only the added lines and ``git diff`` stays readable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence


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
