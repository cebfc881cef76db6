"""Corruption operators: each breaks one table of a package in one way, and says where.

An operator takes the table's CSV text (and the package, for evidence and descriptor
operators) and returns the mutated files with the finding that must result: its code,
the file and the physical line (None where a defect has no line, as a size mismatch).
Operators that cannot apply to a table (no typed field, no foreign key ...) return None.
Used by tests/test_corruption_matrix.py and the property tests.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Table:
    name: str
    path: str  # relative, e.g. data/quotes.csv
    schema: dict
    header: list[str]
    rows: list[list[str]]
    lines: list[int]  # physical line of each row
    root: Path

    @property
    def key(self) -> list[str]:
        return self.schema["primaryKey"]

    def fields(self, predicate) -> list[dict]:
        return [f for f in self.schema["fields"] if predicate(f)]

    def render(self, header=None, rows=None) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            [header or self.header, *(rows if rows is not None else self.rows)]
        )
        return buffer.getvalue()

    def line_after(self, rows: list[list[str]], index: int) -> int:
        """Physical line of row ``index`` once ``rows`` are written."""
        return self.render(rows=rows[:index]).count("\n") + 1


@dataclass
class Mutation:
    files: dict[str, bytes]
    code: str
    file: str
    line: int | None
    rehash: bool = True  # refresh the descriptor's bytes/hash so that only the defect itself shows


def read_table(root: Path, resource: dict) -> Table:
    text = (root / resource["path"]).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    records, lines, previous = [], [], 0
    for record in reader:
        records.append(record)
        lines.append(previous + 1)
        previous = reader.line_num
    schema = json.loads((root / resource["schema"]).read_text(encoding="utf-8"))
    return Table(resource["name"], resource["path"], schema, records[0], records[1:], lines[1:], root)


Operator = Callable[[Table], Mutation | None]
OPERATORS: dict[str, Operator] = {}


def operator(function: Operator) -> Operator:
    OPERATORS[function.__name__.replace("_", "-")] = function
    return function


def _bytes(text: str) -> bytes:
    return text.encode("utf-8")


def _set(t: Table, row: int, column: str, value: str, code: str) -> Mutation:
    rows = [list(r) for r in t.rows]
    rows[row][t.header.index(column)] = value
    return Mutation({t.path: _bytes(t.render(rows=rows))}, code, t.path, t.line_after(rows, row))


def _last_single_line_row(t: Table) -> int | None:
    for index in range(len(t.rows) - 1, -1, -1):
        if not any("\n" in cell or "\r" in cell for cell in t.rows[index]):
            return index
    return None


# --- structural -----------------------------------------------------------------------------


@operator
def truncate_mid_row(t):
    index = _last_single_line_row(t)
    if index is None or index != len(t.rows) - 1:
        return None
    text = t.render()
    cut = text.rstrip("\n").rfind("\n") + 1 + len(t.rows[index][0]) + 1  # keep the first cell and its comma
    return Mutation({t.path: _bytes(text[:cut] + "\n")}, "missing-cell", t.path, t.lines[index])


@operator
def truncate_at_row_boundary(t):
    if not t.rows:
        return None
    text = t.render(rows=t.rows[:-1])
    return Mutation({t.path: _bytes(text)}, "hash-count", t.path, None, rehash=False)  # bytes too: one finding


@operator
def drop_row(t):
    if len(t.rows) < 2:
        return None
    return Mutation({t.path: _bytes(t.render(rows=t.rows[1:]))}, "hash-count", t.path, None, rehash=False)


@operator
def duplicate_row(t):
    if not t.rows:
        return None
    rows = [t.rows[0], list(t.rows[0]), *t.rows[1:]]
    return Mutation({t.path: _bytes(t.render(rows=rows))}, "primary-key", t.path, t.line_after(rows, 1))


@operator
def unterminated_quote(t):
    index = _last_single_line_row(t)
    if index is None or index != len(t.rows) - 1:
        return None
    text = t.render()
    at = text.rstrip("\n").rfind("\n") + 1
    return Mutation({t.path: _bytes(text[:at] + '"' + text[at:])}, "csv-syntax-error", t.path, t.lines[index])


@operator
def stray_quote(t):
    index = _last_single_line_row(t)
    if index is None:
        return None
    lines = t.render().split("\n")
    line = t.lines[index]
    first_cell = lines[line - 1].split(",", 1)[0]
    if first_cell.startswith('"') or len(first_cell) < 2:
        return None
    lines[line - 1] = first_cell[:1] + '"' + lines[line - 1][1:]
    return Mutation({t.path: _bytes("\n".join(lines))}, "csv-syntax-error", t.path, line)


@operator
def embedded_cr(t):
    index = _last_single_line_row(t)
    if index is None:
        return None
    lines = t.render().split("\n")
    line = t.lines[index]
    lines[line - 1] = lines[line - 1][:1] + "\r" + lines[line - 1][1:]
    return Mutation({t.path: _bytes("\n".join(lines))}, "line-ending-error", t.path, line)


@operator
def nul_byte(t):
    if not t.rows:
        return None
    lines = t.render().split("\n")
    line = t.lines[0]
    lines[line - 1] = lines[line - 1][:1] + "\x00" + lines[line - 1][1:]
    return Mutation({t.path: _bytes("\n".join(lines))}, "csv-syntax-error", t.path, line)


@operator
def invalid_utf8(t):
    if not t.rows:
        return None
    data = _bytes(t.render())
    lines = data.split(b"\n")
    line = t.lines[-1]
    lines[line - 1] = lines[line - 1][:1] + b"\xc3\x28" + lines[line - 1][1:]
    return Mutation({t.path: b"\n".join(lines)}, "encoding-error", t.path, line)


@operator
def byte_order_mark(t):
    return Mutation({t.path: b"\xef\xbb\xbf" + _bytes(t.render())}, "byte-order-mark", t.path, 1)


@operator
def utf16(t):
    return Mutation({t.path: t.render().encode("utf-16")}, "encoding-error", t.path, 1)


@operator
def crlf_line_ends(t):
    return Mutation({t.path: _bytes(t.render()).replace(b"\n", b"\r\n")}, "line-ending-error", t.path, 1)


@operator
def ragged_row_extra_cell(t):
    if not t.rows:
        return None
    rows = [list(r) for r in t.rows]
    rows[0] = rows[0] + ["surplus"]
    return Mutation({t.path: _bytes(t.render(rows=rows))}, "extra-cell", t.path, t.lines[0])


@operator
def ragged_row_missing_cell(t):
    if not t.rows:
        return None
    rows = [list(r) for r in t.rows]
    rows[-1] = rows[-1][:-1]
    return Mutation({t.path: _bytes(t.render(rows=rows))}, "missing-cell", t.path, t.line_after(rows, len(rows) - 1))


@operator
def renamed_header(t):
    header = list(t.header)
    header[-1] = header[-1] + "_renamed"
    return Mutation({t.path: _bytes(t.render(header=header))}, "incorrect-label", t.path, 1)


@operator
def reordered_header(t):
    if len(t.header) < 2:
        return None
    order = [1, 0, *range(2, len(t.header))]
    header = [t.header[i] for i in order]
    rows = [[r[i] for i in order] for r in t.rows]
    return Mutation({t.path: _bytes(t.render(header=header, rows=rows))}, "incorrect-label", t.path, 1)


@operator
def blank_header(t):
    header = list(t.header)
    header[-1] = ""
    return Mutation({t.path: _bytes(t.render(header=header))}, "blank-label", t.path, 1)


@operator
def duplicate_header(t):
    header = list(t.header)
    header[-1] = header[0]
    return Mutation({t.path: _bytes(t.render(header=header))}, "duplicate-label", t.path, 1)


# --- types and constraints -----------------------------------------------------------------


@operator
def wrong_type(t):
    typed = t.fields(lambda f: f.get("type") in ("integer", "number", "date"))
    if not typed or not t.rows:
        return None
    return _set(t, 0, typed[0]["name"], "not-a-value", "type-error")


@operator
def out_of_range(t):
    bounded = t.fields(lambda f: "minimum" in f.get("constraints", {}))
    if not bounded or not t.rows:
        return None
    return _set(t, 0, bounded[0]["name"], str(bounded[0]["constraints"]["minimum"] - 1), "constraint-error")


@operator
def enum_violation(t):
    enums = t.fields(lambda f: "enum" in f.get("constraints", {}))
    if not enums or not t.rows:
        return None
    return _set(t, 0, enums[0]["name"], "not_a_code", "constraint-error")


@operator
def pattern_violation(t):
    patterned = t.fields(lambda f: "pattern" in f.get("constraints", {}) and f["name"] not in t.key)
    row = next((i for i, r in enumerate(t.rows) if patterned and r[t.header.index(patterned[0]["name"])]), None)
    if row is None:
        return None
    return _set(t, row, patterned[0]["name"], "Not A Slug!", "constraint-error")


@operator
def required_empty(t):
    required = t.fields(lambda f: f.get("constraints", {}).get("required") and f["name"] not in t.key)
    if not required or not t.rows:
        return None
    return _set(t, 0, required[0]["name"], "", "constraint-error")


# --- keys ----------------------------------------------------------------------------------


@operator
def duplicate_primary_key(t):
    if len(t.rows) < 2:
        return None
    rows = [list(r) for r in t.rows]
    for column in t.key:
        rows[1][t.header.index(column)] = rows[0][t.header.index(column)]
    return Mutation({t.path: _bytes(t.render(rows=rows))}, "primary-key", t.path, t.line_after(rows, 1))


@operator
def orphan_foreign_key(t):
    keys = [k for k in t.schema.get("foreignKeys", []) if len(k["fields"]) == 1]
    for key in keys:
        row = next((i for i, r in enumerate(t.rows) if r[t.header.index(key["fields"][0])]), None)
        if row is not None:
            return _set(t, row, key["fields"][0], "no-such-row", "foreign-key")
    return None


# --- Unicode -------------------------------------------------------------------------------


def _text_cell(t: Table, ascii_only: bool = False) -> tuple[int, str] | None:
    """A free-text cell (no pattern, no enum, no key) of a string field with a value."""
    free = [
        f["name"]
        for f in t.fields(
            lambda f: (
                f.get("type", "string") == "string"
                and not {"pattern", "enum"} & set(f.get("constraints", {}))
                and f["name"] not in t.key
                and f.get("format") != "uri"
            )
        )
    ]
    for row, record in enumerate(t.rows):
        for name in free:
            value = record[t.header.index(name)]
            if value and "\n" not in value and (not ascii_only or value.isascii()):
                return row, name
    return None


@operator
def nfd_duplicate_of_a_key(t):
    # an ID that looks like another row's ID but is in NFD (here with an e + combining acute)
    if len(t.rows) < 2 or len(t.key) != 1:
        return None
    rows = [list(r) for r in t.rows]
    column = t.header.index(t.key[0])
    rows[1][column] = unicodedata.normalize("NFD", rows[0][column] + "\u00e9")
    return Mutation({t.path: _bytes(t.render(rows=rows))}, "text-not-nfc", t.path, t.line_after(rows, 1))


@operator
def homoglyph(t):
    patterned = t.fields(lambda f: "pattern" in f.get("constraints", {}))
    for field_ in patterned:
        for row, record in enumerate(t.rows):
            value = record[t.header.index(field_["name"])]
            if "a" in value:
                return _set(t, row, field_["name"], value.replace("a", "\u0430", 1), "constraint-error")
    return None


@operator
def zero_width_character(t):
    found = _text_cell(t)
    if found is None:
        return None
    row, name = found
    return _set(t, row, name, t.rows[row][t.header.index(name)] + "\u200b", "invisible-character")


@operator
def bidi_override(t):
    found = _text_cell(t)
    if found is None:
        return None
    row, name = found
    return _set(t, row, name, "\u202e" + t.rows[row][t.header.index(name)], "invisible-character")


@operator
def control_character(t):
    found = _text_cell(t)
    if found is None:
        return None
    row, name = found
    return _set(t, row, name, t.rows[row][t.header.index(name)] + "\x07", "invisible-character")


# --- evidence ------------------------------------------------------------------------------


@operator
def span_shifted(t):
    if t.name != "spans" or not t.rows:
        return None
    rows = [list(r) for r in t.rows]
    for column in ("start", "end"):
        rows[0][t.header.index(column)] = str(int(rows[0][t.header.index(column)]) + 1)
    return Mutation({t.path: _bytes(t.render(rows=rows))}, "span-mismatch", t.path, t.line_after(rows, 0))


@operator
def exact_words_changed(t):
    if t.name != "spans" or not t.rows:
        return None
    exact = t.rows[0][t.header.index("exact")]
    return _set(t, 0, "exact", exact[:-1] + ("x" if exact[-1] != "x" else "y"), "span-mismatch")


@operator
def source_text_edited(t):
    if t.name != "sources" or not t.rows:
        return None
    path = t.rows[0][t.header.index("text_path")]
    data = (t.root / path).read_bytes()
    return Mutation({path: data.replace(b"Tillerson", b"Tilerson", 1)}, "source-hash-mismatch", t.path, t.lines[0])


# --- descriptor ----------------------------------------------------------------------------


def _descriptor(t: Table) -> dict:
    return json.loads((t.root / "datapackage.json").read_text(encoding="utf-8"))


@operator
def hash_mismatch(t):
    descriptor = _descriptor(t)
    resource = next(r for r in descriptor["resources"] if r["name"] == t.name)
    resource["hash"] = "sha256:" + hashlib.sha256(b"another file").hexdigest()
    return Mutation(
        {"datapackage.json": _bytes(json.dumps(descriptor, indent=2))}, "hash-count", t.path, None, rehash=False
    )


@operator
def bytes_mismatch(t):
    descriptor = _descriptor(t)
    resource = next(r for r in descriptor["resources"] if r["name"] == t.name)
    resource["bytes"] += 1
    return Mutation(
        {"datapackage.json": _bytes(json.dumps(descriptor, indent=2))}, "byte-count", t.path, None, rehash=False
    )


@operator
def duplicate_json_key(t):
    text = (t.root / "datapackage.json").read_text(encoding="utf-8")
    needle = f'"name": "{t.name}",'
    return Mutation(
        {"datapackage.json": _bytes(text.replace(needle, needle + f'\n      "name": "{t.name}",', 1))},
        "duplicate-json-key",
        "datapackage.json",
        None,
        rehash=False,
    )


@operator
def non_semver_version(t):
    if t.name != "sources":  # one descriptor-wide defect: applied once
        return None
    descriptor = _descriptor(t)
    descriptor["version"] = "v1"
    return Mutation(
        {"datapackage.json": _bytes(json.dumps(descriptor, indent=2))}, "package-error", "datapackage.json", None
    )
