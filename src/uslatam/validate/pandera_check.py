"""Engine "pandera": the typed columns checked by the pandera schema derived from ``schemas/``.

The schema comes from ``uslatam.schema``; the columns were parsed by
:mod:`uslatam.validate.parse` (every engine's input). This module only runs the
schema and turns its failure cases into findings.
"""

from __future__ import annotations

from ..report import Finding
from ..schema import EMPTY_PRIMARY_KEY, TypedTable, pandera_schema
from .context import is_missing

ENGINE = "pandera"


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
        expected = None  # what the cell must be, where a constraint says it
        line = None if case.index is None or case.index != case.index else int(case.index)
        column = case.column if isinstance(case.column, str) else None
        value = None if is_missing(case.failure_case) else str(case.failure_case)  # an empty cell has no value
        if check in ("multiple_fields_uniqueness", EMPTY_PRIMARY_KEY):  # a case a column: one finding a row
            if line in key_rows:
                continue
            if line is not None:
                key_rows.add(line)
            key = ", ".join(spec.primary_key)
            code, column = "primary-key", None
            if check == EMPTY_PRIMARY_KEY:
                message, value = f"the primary key ({key}) is empty", None
            else:
                message = f"the primary key ({key}) repeats an earlier row"
        elif check == "field_uniqueness":
            code, message = "unique-error", f"{value!r} repeats an earlier row of the unique field"
        elif check == "not_nullable":
            if line is not None and column is not None and bool(table.bad_cells[column].get(line, False)):
                continue  # already a type-error: the text was there, just not of the type
            code, message = "constraint-error", "the field is required but the cell is empty"
        elif column is None:  # a failure of the whole frame: pandera's own words
            code, message = "constraint-error", f"the table breaks the check {check}"
        elif check.startswith("dtype(") or check == "column_in_dataframe":
            code, message = "type-error", f"column is not of dtype {spec.field(column).pandas_dtype}"
        else:
            code = "constraint-error"
            expected = _constraint(check, spec.field(column))
            message = f"{value!r} breaks the constraint {expected}"
        findings.append(
            Finding(
                code,
                message,
                table=spec.name,
                file=table.relpath,
                line=line,
                column=column,
                value=value,
                expected=expected,
                found_by=(ENGINE,),
            )
        )
    return findings


def _constraint(check: str, field) -> str:
    if check.startswith("isin"):
        return f"enum {list(field.enum)}"
    if check.startswith("pattern"):
        return field.pattern_described
    if check.startswith("greater_than_or_equal_to"):
        return f"minimum {field.minimum}"
    if check.startswith("less_than_or_equal_to"):
        return f"maximum {field.maximum}"
    if check.startswith("str_length"):
        return f"length {field.min_length}..{field.max_length}"
    return check
