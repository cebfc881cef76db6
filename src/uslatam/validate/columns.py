"""Layer (engine "vectorised"): every constraint and key of ``schemas/`` checked on whole columns.

The same checks as the pandera schema derived from ``schemas/`` and as frictionless,
written as pyarrow and numpy operations over a column at a time, so that a million
rows cost a few column scans, and one bad cell costs no more than a good one.
"""

from __future__ import annotations

from ..report import Finding
from ..schema import FieldSpec, TypedTable

ENGINE = "vectorised"


def check(table: TypedTable) -> list[Finding]:
    """Required, enum, pattern, minimum, maximum, length, unique and primary key, for every row."""
    findings: list[Finding] = []
    frame = table.frame
    for spec in table.spec.fields:
        if spec.name not in frame.columns:
            continue
        findings.extend(_field(table, spec))
    key = list(table.spec.primary_key)
    if key and all(name in frame.columns for name in key):
        # a row without a key (every key cell empty) is a finding of its own and repeats no other row
        empty = frame[key].isna().all(axis=1).to_numpy()
        for line in frame.index[empty]:
            message = f"the primary key ({', '.join(key)}) is empty"
            findings.append(_finding(table, "primary-key", message, int(line), None))
        keyed = frame[~empty]
        repeated = keyed.duplicated(subset=key, keep="first").to_numpy()
        message = f"the primary key ({', '.join(key)}) repeats an earlier row"
        for line in keyed.index[repeated]:
            findings.append(_finding(table, "primary-key", message, int(line), None, frame.at[line, key[0]]))
    return findings


def _field(table: TypedTable, spec: FieldSpec) -> list[Finding]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    findings: list[Finding] = []
    series = table.frame[spec.name]
    present = series.notna().to_numpy()
    if spec.required:
        bad_type = table.bad_cells.get(spec.name)
        empty = ~present if bad_type is None else ~present & ~bad_type.to_numpy()
        for line in series.index[empty]:
            findings.append(
                _finding(table, "constraint-error", "the field is required but the cell is empty", int(line), spec.name)
            )
    broken = []  # (mask over rows, description)
    if spec.type == "string":
        values = pa.array(series, type=pa.large_string()) if len(series) else pa.array([], pa.large_string())
        if spec.enum is not None:
            allowed = pc.is_in(values, value_set=pa.array(list(spec.enum), pa.large_string()))
            broken.append((~_filled(allowed), f"enum {list(spec.enum)}"))
        if spec.pattern is not None:
            matches = pc.match_substring_regex(values, f"^(?:{spec.pattern})$")
            broken.append((~_filled(matches), spec.pattern_described))
        if spec.min_length is not None or spec.max_length is not None:
            lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
            outside = np.zeros(len(series), dtype=bool)
            if spec.min_length is not None:
                outside |= lengths < spec.min_length
            if spec.max_length is not None:
                outside |= lengths > spec.max_length
            broken.append((outside, f"length {spec.min_length}..{spec.max_length}"))
    elif spec.type in ("integer", "number", "date"):
        numbers = series
        if spec.minimum is not None:
            broken.append(
                ((numbers < _bound(spec.minimum, spec)).fillna(False).to_numpy(bool), f"minimum {spec.minimum}")
            )
        if spec.maximum is not None:
            broken.append(
                ((numbers > _bound(spec.maximum, spec)).fillna(False).to_numpy(bool), f"maximum {spec.maximum}")
            )
        if spec.enum is not None:
            allowed = series.isin([_bound(v, spec) for v in spec.enum]).fillna(True).to_numpy(bool)
            broken.append((~allowed & present, f"enum {list(spec.enum)}"))
    for mask, description in broken:
        mask = mask & present
        for line, value in series[mask].items():
            text = str(value)
            findings.append(
                _finding(
                    table,
                    "constraint-error",
                    f"{text!r} breaks the constraint {description}",
                    int(line),
                    spec.name,
                    text,
                )
            )
    if spec.unique:
        repeated = (series.duplicated(keep="first") & pd.Series(present, index=series.index)).to_numpy()
        for line, value in series[repeated].items():
            findings.append(
                _finding(
                    table,
                    "unique-error",
                    f"{str(value)!r} repeats an earlier row of the unique field",
                    int(line),
                    spec.name,
                    str(value),
                )
            )
    return findings


def _filled(result):
    """A boolean pyarrow result as numpy, missing counted as passing (missing cells are the required check's)."""
    import pyarrow.compute as pc

    return pc.fill_null(result, True).to_numpy(zero_copy_only=False)


def _bound(value, spec: FieldSpec):
    if spec.type == "date":
        import pandas as pd

        return pd.Timestamp(value)
    return value


def _finding(table: TypedTable, code: str, message: str, line: int, column: str | None, value=None) -> Finding:
    return Finding(
        code,
        message,
        table=table.spec.name,
        file=table.relpath,
        line=line,
        column=column,
        value=None if value is None else str(value),
        found_by=(ENGINE,),
    )
