"""Every engine's input: a table's cells parsed, a column at a time, to its schema's dtypes.

A cell whose text is not of its field's type becomes NA and a ``type-error``
finding, credited to the layer that ran the parse (see :func:`uslatam.validate.validate`).
"""

from __future__ import annotations

from ..csvio import RawTable
from ..report import Finding
from ..schema import TableSpec, TypedTable, parse_column, text_array


def typed_table(spec: TableSpec, raw: RawTable, relpath: str, engine: str) -> tuple[TypedTable, list[Finding]]:
    """Parse every column of ``raw`` to its field's dtype; cells of the wrong type become NA."""
    import pandas as pd

    names = spec.field_names
    width = len(names)
    rows: list[list[str | None]] = []
    lines: list[int] = []
    padded: set[tuple[int, str]] = set()
    header_width = len(raw.header)
    for record, line in zip(raw.rows, raw.lines):
        if not any(cell.strip() for cell in record):
            continue
        rows.append((record + [None] * width)[:width])
        lines.append(line)
        short = min(len(record), header_width)
        padded.update((line, name) for name in names[short:])
    index = pd.Index(lines, dtype="int64", name="line")
    cells = zip(*rows) if rows else ([] for _ in names)  # a column at a time, each one Arrow array
    text = pd.DataFrame({name: text_array(column) for name, column in zip(names, cells)}, index=index)
    table = TypedTable(
        spec=spec,
        relpath=relpath,
        frame=None,
        record_lines=list(raw.lines),
        blank_lines=set(raw.lines) - set(lines),
        padded_cells=padded,
    )
    return table, parse_text(table, text, engine)


def parse_text(table: TypedTable, text, engine: str) -> list[Finding]:
    """Fill ``table.frame`` from ``text`` (cells as strings, indexed by line); report cells of the wrong type."""
    import pandas as pd

    spec = table.spec
    findings: list[Finding] = []
    columns = {}
    for field in spec.fields:
        parsed = parse_column(text[field.name], field, spec.missing_values)
        columns[field.name] = parsed.values
        table.bad_cells[field.name] = parsed.bad
        for line in parsed.bad.index[parsed.bad.to_numpy()]:
            value = text.at[line, field.name]
            findings.append(
                Finding(
                    "type-error",
                    f"{value!r} is not of type {field.type}"
                    + (f" ({field.format})" if field.format != "default" else ""),
                    table=spec.name,
                    file=table.relpath,
                    line=int(line),
                    column=field.name,
                    value=str(value),
                    expected=field.type,
                    found_by=(engine,),
                )
            )
    table.frame = pd.DataFrame(columns, index=text.index)
    table.text = text
    return findings
