"""Breaking one cell of a copy of the real package is caught, at the right file, line and column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from uslatam.package import refresh_integrity
from uslatam.validate import validate


def _edit(package: Path, table: str, key_column: str, key: str, column: str, value: str) -> int:
    """Set one cell, keep the descriptor's hashes current, and return the row's physical line."""
    path = package / "data" / f"{table}.csv"
    text = path.read_text(encoding="utf-8")
    records = list(csv.reader(io.StringIO(text, newline="")))
    header = records[0]
    line = 2
    for record in records[1:]:
        if record[header.index(key_column)] == key:
            record[header.index(column)] = value
            break
        line += sum(cell.count("\n") for cell in record) + 1
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    refresh_integrity(package)
    return line


def _locations(package: Path) -> set:
    return {f.location for f in validate(package).findings}


def test_span_shifted_by_one_character_fails(package_copy: Path) -> None:
    start = _span_cell(package_copy, "ic-q-blame-game", "start")
    end = _span_cell(package_copy, "ic-q-blame-game", "end")
    _edit(package_copy, "spans", "span_id", "ic-q-blame-game", "start", str(start + 1))
    line = _edit(package_copy, "spans", "span_id", "ic-q-blame-game", "end", str(end + 1))
    # a span whose offsets do not hold covers nothing: the quotation it held is reported uncovered too
    assert _locations(package_copy) == {
        ("span-mismatch", "spans", line, "exact"),
        ("uncovered-text", "sources", 2, "body"),
    }


def test_duplicated_primary_key_fails(package_copy: Path) -> None:
    # the later of two rows with one key is the one reported
    line = _edit(package_copy, "quotes", "quote_id", "trump-record-high", "quote_id", "trump-cocoa")
    # the checkout's release had a trump-record-high: renaming it also removes a released row
    assert _locations(package_copy) == {
        ("primary-key", "quotes", line, None),
        ("removed-without-retraction", "quotes", None, None),
    }


def test_orphaned_foreign_key_fails(package_copy: Path) -> None:
    line = _edit(package_copy, "event_participants", "entity_id", "jeff-sessions", "entity_id", "jeff-session")
    assert _locations(package_copy) == {
        ("foreign-key", "event_participants", line, "entity_id"),
        ("removed-without-retraction", "event_participants", None, None),  # its key includes entity_id
    }


def test_a_line_number_counts_line_ends_inside_cells(package_copy: Path) -> None:
    # spans.csv holds prefixes with line ends, so physical lines run ahead of record numbers
    line = _edit(package_copy, "spans", "span_id", "ic-heroin-rising", "exact", "Heroin production is rising in Mexic0")
    records_before = [r["span_id"] for r in csv.DictReader(open(package_copy / "data" / "spans.csv", encoding="utf-8"))]
    assert line > records_before.index("ic-heroin-rising") + 2
    assert _locations(package_copy) == {("span-mismatch", "spans", line, "exact")}
    physical = (package_copy / "data" / "spans.csv").read_text(encoding="utf-8").split("\n")[line - 1]
    assert physical.startswith("ic-heroin-rising,")


def test_edit_without_rehash_is_named_as_integrity_problem(package_copy: Path) -> None:
    path = package_copy / "data" / "positions.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("US Secretary of State", "US Secretary Of State"), encoding="utf-8"
    )
    # same length, other bytes: the hash catches what the size cannot
    assert _locations(package_copy) == {("hash-count", "positions", None, None)}


def _span_cell(package: Path, span_id: str, column: str) -> int:
    for row in csv.DictReader(open(package / "data" / "spans.csv", encoding="utf-8", newline="")):
        if row["span_id"] == span_id:
            return int(row[column])
    raise KeyError(span_id)
