"""The text hygiene rule, which tests a table's columns together, against the plain reading a cell at a time."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uslatam.schema import TableSpec, TypedTable
from uslatam.validate.context import Context
from uslatam.validate.rules import text as hygiene

# Characters on which Python and the Arrow kernels agree: visible (ASCII and not), decomposed (not NFC),
# a space, a tab and a line end (whitespace; invisible in a single-line field), a zero-width space and a bell.
ALPHABET = ["a", "Z", "é", "e\u0301", " ", "\t", "\n", "\u200b", "\x07", "ñ"]
cells = st.one_of(st.none(), st.lists(st.sampled_from(ALPHABET), max_size=4).map("".join))


@st.composite
def tables(draw):
    width = draw(st.integers(1, 4))
    flags = [(draw(st.booleans()), draw(st.booleans())) for _ in range(width)]  # (multiline, keepsWhitespace)
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=8))
    return flags, rows


def _expected(spec: TableSpec, frame) -> set[tuple]:
    """What the rule reports, read a cell at a time with Python's own string functions."""
    found = set()
    for field in spec.fields:
        pattern = hygiene._INVISIBLE if field.multiline else hygiene._INVISIBLE_SINGLE_LINE
        for line, value in frame[field.name].items():
            if pd.isna(value):
                continue
            if re.search(pattern, value):
                found.add(("invisible-character", int(line), field.name))
            if not field.keeps_whitespace and value != value.strip():
                found.add(("cell-whitespace", int(line), field.name))
            if unicodedata.normalize("NFC", value) != value:
                found.add(("text-not-nfc", int(line), field.name))
    return found


@settings(max_examples=300, deadline=None)
@given(table=tables(), batch=st.sampled_from([1, 3, 7, 100_000]), chunked=st.booleans())
def test_columns_tested_together_find_what_a_cell_at_a_time_finds(table, batch, chunked) -> None:
    flags, rows = table
    schema = {
        "fields": [
            {"name": f"c{number}", "type": "string", "multiline": multiline, "keepsWhitespace": keeps}
            for number, (multiline, keeps) in enumerate(flags)
        ]
    }
    spec = TableSpec.from_schema("t", schema)
    frame = pd.DataFrame(rows, columns=spec.field_names, index=pd.Index(range(2, 2 + len(rows)), name="line"))
    text = frame.astype("string")
    if chunked:  # as pyarrow's reader gives large tables: each column in several chunks
        whole = pa.Table.from_pandas(text)
        halves = pa.Table.from_batches(whole.to_batches(max_chunksize=max(1, len(rows) // 2)), schema=whole.schema)
        text = halves.to_pandas(types_mapper=lambda _: pd.StringDtype("pyarrow")).set_axis(text.index)
    typed = TypedTable(spec=spec, relpath="data/t.csv", frame=frame, text=text)
    ctx = Context(package=None, tables={"t": typed})  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hygiene, "_BATCH_CELLS", batch)  # 1: a column a call; 100,000: the whole table in one
        findings = list(hygiene.text_hygiene(ctx, typed))
    assert {(f.code, f.line, f.column) for f in findings} == _expected(spec, typed.text)
    assert len(findings) == len({(f.code, f.line, f.column) for f in findings})  # each once
