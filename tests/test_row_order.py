"""The row-order rule against a row-at-a-time reading of what it promises, on drawn tables."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from uslatam.schema import TableSpec, TypedTable
from uslatam.validate.context import Context
from uslatam.validate.rules import order

DTYPES = {"string": "string", "integer": "Int64", "number": "Float64"}
VALUES = {
    "string": st.sampled_from(["a", "b", "bb", "c"]),
    "integer": st.integers(-2, 2),
    "number": st.sampled_from([-1.5, 0.0, 2.0, math.nan]),  # NaN is a value, not a missing cell
}


@st.composite
def tables(draw):
    kinds = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=3))
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(["k1", "k2", "k3", "k4", "k5", None]), *[st.none() | VALUES[k] for k in kinds]),
            max_size=12,
        )
    )
    return kinds, rows


def _expected(kinds, rows) -> set[tuple[int, str]]:
    """Rows with every order cell, the first of each key (a missing key repeats one too), each
    compared with the one kept above it."""
    kept, seen = [], set()
    for line, (key, *cells) in enumerate(rows, 2):
        if key in seen:
            continue
        seen.add(key)
        if all(cell is not None for cell in cells):
            kept.append((line, cells))
    found = set()
    for (_, above), (line, here) in zip(kept, kept[1:]):
        for position, (a, h) in enumerate(zip(above, here)):
            if h < a:  # NaN is neither less nor equal: it decides, and nothing sorts before it
                found.add((line, f"o{position}"))
            if not h == a:
                break
    return found


@settings(max_examples=400, deadline=None)
@given(table=tables())
def test_row_order_reports_the_rows_a_row_at_a_time_reading_does(table) -> None:
    kinds, rows = table
    schema = {
        "fields": [{"name": "key", "type": "string"}]
        + [{"name": f"o{n}", "type": kind} for n, kind in enumerate(kinds)],
        "primaryKey": ["key"],
        "rowOrder": [f"o{n}" for n in range(len(kinds))],
    }
    spec = TableSpec.from_schema("t", schema)
    index = pd.Index(range(2, 2 + len(rows)), name="line")
    columns = {"key": pd.array([r[0] for r in rows], dtype="string")}
    for n, kind in enumerate(kinds):
        columns[f"o{n}"] = pd.array([r[n + 1] for r in rows], dtype=DTYPES[kind])
    frame = pd.DataFrame(columns, index=index)
    if any(kind == "number" for kind in kinds):  # pandas keeps NaN apart from a missing cell only when told
        for n, kind in enumerate(kinds):
            if kind == "number":
                values = [r[n + 1] for r in rows]
                frame[f"o{n}"] = pd.arrays.FloatingArray(
                    pd.array([0.0 if v is None else v for v in values], dtype="float64").to_numpy(),
                    pd.array([v is None for v in values], dtype="bool").to_numpy(),
                )
    typed = TypedTable(spec=spec, relpath="data/t.csv", frame=frame)
    ctx = Context(package=None, tables={"t": typed})  # type: ignore[arg-type]
    found = {(f.line, f.column) for f in order.row_order(ctx, typed)}
    assert found == _expected(kinds, rows)
