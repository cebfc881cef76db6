"""Layer: columns parsed vectorised to the schema's dtypes, then checked by pandera.

The pandera schema is derived from ``schemas/`` (see ``uslatam.schema``); this
module only runs it and turns its failure cases into findings.
"""

from __future__ import annotations

from ..csvio import RawTable
from ..report import Finding
from ..schema import TableSpec, TypedTable, pandera_schema, parse_column

ENGINE = "pandera"


def typed_table(spec: TableSpec, raw: RawTable, relpath: str, engine: str = ENGINE) -> tuple[TypedTable, list[Finding]]:
    """Parse every column of ``raw`` to its field's dtype; cells of the wrong type become NA."""
    import pandas as pd

    names = spec.field_names
    width = len(names)
    rows, lines, padded = [], [], set()
    header_width = len(raw.header)
    for record, line in zip(raw.rows, raw.lines):
        if not any(cell.strip() for cell in record):
            continue
        rows.append((record + [None] * width)[:width])
        lines.append(line)
        short = min(len(record), header_width)
        padded.update((line, name) for name in names[short:])
    index = pd.Index(lines, dtype="int64", name="line")
    text = (
        pd.DataFrame(rows, columns=names, index=index, dtype="string")
        if rows
        else pd.DataFrame({name: pd.Series([], dtype="string") for name in names}, index=index)
    )
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


def check(table: TypedTable) -> list[Finding]:
    """Validate a typed table with its derived pandera schema, reporting every failure (lazy)."""
    import pandera.pandas as pa

    schema = pandera_schema(table.spec)
    try:
        schema.validate(table.frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return _findings(errors.failure_cases, table)
    return []


def _findings(cases, table: TypedTable) -> list[Finding]:
    spec = table.spec
    findings: list[Finding] = []
    key_rows: set[int] = set()
    for case in cases.itertuples(index=False):
        check = str(case.check)
        line = None if case.index is None or case.index != case.index else int(case.index)
        column = case.column if isinstance(case.column, str) else None
        value = None if case.failure_case is None else str(case.failure_case)
        if check == "multiple_fields_uniqueness":
            if line in key_rows:
                continue
            key_rows.add(line)
            code, column, message = (
                "primary-key",
                None,
                f"the primary key ({', '.join(spec.primary_key)}) repeats an earlier row",
            )
        elif check == "field_uniqueness":
            code, message = "unique-error", f"{value!r} repeats an earlier row of the unique field"
        elif check == "not_nullable":
            if line is not None and bool(table.bad_cells[column].get(line, False)):
                continue  # already a type-error: the text was there, just not of the type
            code, message = "constraint-error", "the field is required but the cell is empty"
        elif check.startswith("dtype(") or check == "column_in_dataframe":
            code, message = "type-error", f"column is not of dtype {spec.field(column).pandas_dtype}"
        else:
            code = "constraint-error"
            message = f"{value!r} breaks the constraint {_constraint(check, spec.field(column))}"
        findings.append(
            Finding(
                code,
                message,
                table=spec.name,
                file=table.relpath,
                line=line,
                column=column,
                value=value,
                found_by=(ENGINE,),
            )
        )
    return findings


def _constraint(check: str, field) -> str:
    if check.startswith("isin"):
        return f"enum {list(field.enum)}"
    if check.startswith("pattern"):
        return f"pattern {field.pattern}"
    if check.startswith("greater_than_or_equal_to"):
        return f"minimum {field.minimum}"
    if check.startswith("less_than_or_equal_to"):
        return f"maximum {field.maximum}"
    if check.startswith("str_length"):
        return f"length {field.min_length}..{field.max_length}"
    return check
