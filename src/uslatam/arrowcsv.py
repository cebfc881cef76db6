"""The project's CSV dialect read by pyarrow, for large tables, exactly as the strict reader reads it.

pyarrow parses CSV in C++ on every core but is lenient where the strict reader of
:mod:`uslatam.csvio` reports: stray quotation marks, blank rows, ragged rows, CR line
ends, byte order marks. So the bytes are screened first, with whole-array numpy
operations: the quotation marks are grouped into runs, and the quoting state after
each run (a prefix sum of run parities) says whether every mark opens a cell, closes
one before a delimiter, or is a doubled mark inside one. A file that passes the screen
is well-formed in the dialect, and pyarrow reads it as the strict reader would; a file
that does not pass is read by the strict reader, which reports exactly what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_COMMA, _NEWLINE, _QUOTE = 44, 10, 34


@dataclass
class ArrowTable:
    header: list[str]
    columns: Any  # pyarrow.Table of string columns named as the header
    lines: Any  # numpy int64: the physical line where each record starts
    plain: bool  # no cell holds a line end or a control, zero-width or bidi character


def read(raw: bytes, field_names: list[str], *, max_cell_chars: int) -> ArrowTable | None:
    """The table in ``raw``, or None when the strict reader must read it (anything unusual)."""
    import numpy as np

    if not raw or raw[:3] == b"\xef\xbb\xbf" or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    if not raw.endswith(b"\n") or b"\r" in raw or b"\x00" in raw:
        return None
    data = np.frombuffer(raw, dtype=np.uint8)
    if b'"' in raw:
        newlines = np.flatnonzero(data == _NEWLINE)
        inside = _quoting_state(data, newlines)
        if inside is None:
            return None
        record_ends = newlines[~inside]
        quoted_newlines = bool(inside.any())
        ends_index = np.flatnonzero(~inside)
        header_end = int(record_ends[0])
        if record_ends[0] == 0 or np.any(np.diff(record_ends) == 1):
            return None  # a blank line: the strict reader reports blank rows
    else:  # no quoting: every line end ends a record
        if raw.startswith(b"\n") or b"\n\n" in raw:
            return None
        quoted_newlines, ends_index = False, np.arange(raw.count(b"\n"))
        header_end = raw.index(b"\n")
    try:
        header_text = raw[:header_end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    import csv

    header = next(csv.reader([header_text]))
    if header != field_names:
        return None
    table = _parse(raw, header, quoted_newlines)
    if table is None or table.num_rows != len(ends_index) - 1:
        return None
    if _blank_or_oversized(table, max_cell_chars):
        return None
    lines = ends_index[:-1].astype(np.int64) + 2
    return ArrowTable(header=header, columns=table, lines=lines, plain=not quoted_newlines and not _hidden(raw, data))


_CONTROLS = bytes([*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F])  # every C0 control but LF, and DEL
_LEADS = bytes([0xC2, 0xD8, 0xE2, 0xEF])  # first bytes of C1 controls, ALM, zero-width and bidi marks, BOM
_NEITHER = bytes(b for b in range(256) if b not in _LEADS and b not in _CONTROLS)


def _hidden(raw: bytes, data) -> bool:
    """Whether the bytes may hold a character the text rules call invisible (C0/C1 controls but LF,
    DEL, zero-width and bidi marks, BOM, ALM): a cheap screen, exact checks run when it says yes."""
    import numpy as np

    kept = raw.translate(None, _NEITHER)  # one pass: the controls and lead bytes, nothing else
    if kept.translate(None, _LEADS):
        return True
    leads = set(kept)
    last = len(data) - 1
    for lead in leads:
        at = np.flatnonzero(data == lead)
        second, third = data[np.minimum(at + 1, last)], data[np.minimum(at + 2, last)]
        if lead == 0xC2:
            found = (second >= 0x80) & (second <= 0x9F)
        elif lead == 0xD8:
            found = second == 0x9C
        elif lead == 0xEF:
            found = (second == 0xBB) & (third == 0xBF)
        else:
            found = ((second == 0x80) & (((third >= 0x8B) & (third <= 0x8F)) | ((third >= 0xAA) & (third <= 0xAE)))) | (
                (second == 0x81) & (((third >= 0xA0) & (third <= 0xA4)) | ((third >= 0xA6) & (third <= 0xA9)))
            )
        if np.any(found):
            return True
    return False


def _quoting_state(data, newlines):
    """For every newline, whether it is inside a quoted cell; None if the quoting is broken."""
    import numpy as np

    quotes = np.flatnonzero(data == _QUOTE)
    breaks = np.flatnonzero(np.diff(quotes) != 1) + 1
    run_starts = quotes[np.concatenate([[0], breaks])]
    run_lengths = np.diff(np.concatenate([[0], breaks, [len(quotes)]]))
    run_ends = run_starts + run_lengths  # first byte after the run
    state_after = np.cumsum(run_lengths % 2) % 2  # 1: inside a quoted cell after the run
    state_before = np.concatenate([[0], state_after[:-1]])
    if state_after[-1]:
        return None  # an unterminated quoted cell
    previous = np.where(run_starts > 0, data[np.maximum(run_starts - 1, 0)], _NEWLINE)
    at_cell_start = (previous == _COMMA) | (previous == _NEWLINE)
    if np.any((state_before == 0) & ~at_cell_start):
        return None  # a mark inside an unquoted cell
    following = np.where(run_ends < len(data), data[np.minimum(run_ends, len(data) - 1)], _NEWLINE)
    at_cell_end = (following == _COMMA) | (following == _NEWLINE)
    if np.any((state_after == 0) & ~at_cell_end):
        return None  # text after a closing mark
    runs_before = np.searchsorted(run_starts, newlines)
    return np.where(runs_before > 0, state_after[np.maximum(runs_before - 1, 0)], 0).astype(bool)


def _parse(raw: bytes, header: list[str], quoted_newlines: bool):
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    try:
        return arrow_csv.read_csv(
            pa.BufferReader(raw),
            read_options=arrow_csv.ReadOptions(
                skip_rows=1, column_names=[f"c{i}" for i in range(len(header))], block_size=1 << 24
            ),
            parse_options=arrow_csv.ParseOptions(newlines_in_values=quoted_newlines, ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(
                column_types={f"c{i}": pa.string() for i in range(len(header))},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        ).rename_columns(header)
    except (pa.ArrowInvalid, pa.ArrowException):
        return None  # ragged rows or bad UTF-8: the strict reader names them


def _blank_or_oversized(table, max_cell_chars: int) -> bool:
    """A row of empty cells, or a cell over the size limit: the strict reader reports both."""
    import pyarrow.compute as pc

    for column in table.columns:
        longest = pc.max(pc.binary_length(column)).as_py()
        if longest is not None and longest > max_cell_chars and pc.max(pc.utf8_length(column)).as_py() > max_cell_chars:
            return True
    if table.num_rows == 0:
        return False
    rows = table
    for position in range(rows.num_columns):
        column = rows.column(position)
        rows = rows.filter(pc.or_(pc.equal(pc.binary_length(column), 0), pc.utf8_is_space(column)))
        if rows.num_rows == 0:
            return False
    return True
