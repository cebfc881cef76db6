"""Rules of a table's own form: its rows stand in the order its schema gives."""

from __future__ import annotations

from collections.abc import Iterator

from ...report import Finding
from ...schema import TypedTable
from ..context import Context, arrow
from . import rule


@rule("row-order", applies=lambda spec: bool(spec.order))
def row_order(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Rows are sorted by the schema's ``rowOrder`` (else its primary key), so a diff shows only real changes.

    Rows whose order cells are missing or not of their type, and rows repeating an
    earlier row's primary key, are left out (other findings name them); each row that
    sorts before the row above it is reported.
    """
    import numpy as np

    frame, order = typed.frame, typed.spec.order
    if any(c not in frame.columns for c in order):
        return
    columns = [frame[c] for c in order]  # a column at a time: a frame of them, or of the rows, costs more
    complete = np.logical_and.reduce([column.notna().to_numpy(bool) for column in columns])
    rows = np.flatnonzero(complete)  # positions in the frame of the rows compared
    if len(rows) < 2:
        return
    earlier, deciding = _sorting_before(columns, rows)
    if not earlier.any() and not _has_nan(columns, rows):
        return  # in order: leaving out rows (the repeated keys below) cannot put any out of it
    key = list(typed.spec.primary_key)
    if key and all(c in frame.columns for c in key):  # a repeated key is the primary key's finding, not a misplaced row
        repeated = frame[key[0]].duplicated(keep="first") if len(key) == 1 else frame.duplicated(subset=key)
        if repeated.any():
            rows = np.flatnonzero(complete & ~repeated.to_numpy(bool))
            if len(rows) < 2:
                return
            earlier, deciding = _sorting_before(columns, rows)
    lines = frame.index.to_numpy()
    for offset in np.flatnonzero(earlier).tolist():
        column, above, here = order[deciding[offset]], rows[offset], rows[offset + 1]
        yield ctx.finding(
            "row-order",
            f"the row sorts before the row above it (line {lines[above]}) by {', '.join(order)}",
            typed.spec.name,
            lines[here],
            column,
            frame[column].iat[here],
            f">= {frame[column].iat[above]}",
        )


def _sorting_before(columns, rows):
    """For each of ``rows`` after the first: whether it sorts before the row above it, and the
    position of the order column that decides (-1: the two rows are equal)."""
    import numpy as np
    import pyarrow.compute as pc

    earlier = np.zeros(len(rows) - 1, dtype=bool)
    undecided = np.ones(len(rows) - 1, dtype=bool)
    deciding = np.full(len(rows) - 1, -1)
    for position, column in enumerate(columns):
        values = arrow(column).take(rows)
        above, here = values.slice(0, len(values) - 1), values.slice(1)
        less = pc.less(here, above).to_numpy(zero_copy_only=False)
        equal = pc.equal(here, above).to_numpy(zero_copy_only=False)
        earlier |= undecided & less
        deciding[undecided & ~equal] = position
        undecided &= equal
    return earlier, deciding


def _has_nan(columns, rows) -> bool:
    """Whether a compared cell is NaN: it is neither less than, equal to nor greater than any
    value, so leaving out a row beside it can put the rows around it out of order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in columns:
        values = arrow(column)
        if pa.types.is_floating(values.type) and pc.any(pc.is_nan(values.take(rows))).as_py():
            return True
    return False
