"""The pyarrow reader reads exactly what the strict reader reads, or hands the file to it."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from uslatam import arrowcsv
from uslatam.csvio import read_table

HEADER = ["a", "b", "c"]


def _strict(tmp_path, data: bytes):
    file = tmp_path / "table.csv"
    file.write_bytes(data)
    return read_table(file, table="t", relpath="t.csv", max_cell_chars=1000, max_columns=100)


def _agrees(tmp_path, data: bytes) -> None:
    fast = arrowcsv.read(data, HEADER, max_cell_chars=1000)
    strict = _strict(tmp_path, data)
    if fast is None:
        return  # the strict reader reads it: nothing to compare
    assert strict.readable and not strict.findings, "the screen passed a file the strict reader objects to"
    assert strict.header == fast.header
    columns = [fast.columns.column(i).to_pylist() for i in range(fast.columns.num_columns)]
    assert [list(row) for row in zip(*columns)] == strict.rows
    assert fast.lines.tolist() == strict.lines


# Cells made of the characters that matter to CSV quoting, so every kind of break is drawn.
cells = st.text(alphabet='ab ,"\n\r\u200b', max_size=6)
rows = st.lists(st.lists(cells, min_size=1, max_size=4), max_size=6)


@given(rows=rows, quote_all=st.booleans())
def test_any_written_table_reads_alike(tmp_path_factory, rows, quote_all) -> None:
    """Tables written by a csv writer (well-formed, sometimes ragged or blank)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    writer.writerows(rows)
    _agrees(tmp_path_factory.mktemp("csv"), buffer.getvalue().encode("utf-8"))


@given(body=st.text(alphabet='ab,"\n', max_size=40))
def test_any_bytes_read_alike(tmp_path_factory, body) -> None:
    """Arbitrary text after a good header: stray and unbalanced quotation marks, blank lines."""
    _agrees(tmp_path_factory.mktemp("csv"), ("a,b,c\n" + body).encode("utf-8"))


def test_well_formed_quoting_is_read_by_pyarrow(tmp_path) -> None:
    data = b'a,b,c\n1,"x, ""y""",z\n2,"two\nlines",\n3,,"\xe2\x80\x9cq\xe2\x80\x9d"\n'
    fast = arrowcsv.read(data, HEADER, max_cell_chars=1000)
    assert fast is not None
    assert fast.columns.column("b").to_pylist() == ['x, "y"', "two\nlines", ""]
    assert fast.lines.tolist() == [2, 3, 5]
    assert fast.plain is False  # a cell holds a line end


def test_unusual_files_go_to_the_strict_reader() -> None:
    for data in (
        b'a,b,c\n1,x"y,z\n',  # stray quotation mark
        b'a,b,c\n1,"x"y,z\n',  # text after a closing mark
        b'a,b,c\n1,"x,z\n',  # unterminated
        b"a,b,c\n\n1,2,3\n",  # blank line
        b"a,b,c\n1,2\n",  # ragged
        b"a,b,c\r\n1,2,3\r\n",  # CR LF
        b"\xef\xbb\xbfa,b,c\n1,2,3\n",  # byte order mark
        b"a,b,c\n1,2,3",  # no final line end
        b"a,b,c\n1,\xff,3\n",  # not UTF-8
        b"a,b,x\n1,2,3\n",  # another header
        b"a,b,c\n , ,\n",  # a row of blanks
    ):
        assert arrowcsv.read(data, HEADER, max_cell_chars=1000) is None, data


def test_invisible_characters_are_screened_from_the_bytes() -> None:
    for text, hidden in (
        ("plain “quoted” — é\n", False),
        ("zero\u200bwidth\n", True),
        ("tab\there\n", True),
        ("c1\u0085\n", True),
        ("bidi\u202e\n", True),
        ("bom\ufeff\n", True),
    ):
        data = text.encode("utf-8")
        assert arrowcsv._hidden(data, np.frombuffer(data, dtype=np.uint8)) is hidden, text
