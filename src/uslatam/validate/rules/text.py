"""Rules of text hygiene: every text cell is NFC, holds no hidden characters and no whitespace around it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from ...report import Finding
from ...schema import TypedTable
from ..context import Context, arrow_text, end_to_end
from . import rule

_INVISIBLE = "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u061c]"
_INVISIBLE_SINGLE_LINE = "[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u061c]"


@rule("text-not-nfc", "invisible-character", "cell-whitespace")
def text_hygiene(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Text cells are NFC and hold no control, zero-width or bidi characters.

    Line ends are allowed only in fields marked ``multiline``; whitespace around a cell only in
    fields marked ``keepsWhitespace``.
    """
    import pyarrow.compute as pc

    text = typed.text
    if text is None or text.empty:
        return
    name = typed.spec.name
    fields = [spec for spec in typed.spec.fields if spec.name in text.columns]
    lines = text.index.to_numpy()
    # a small table's columns made Arrow arrays once for the three tests; a large one's a column at a time
    small = len(text) * len(fields) <= _BATCH_CELLS
    cells = {spec.name: arrow_text(text[spec.name]) for spec in fields} if small else {}
    hidden = (
        {}
        if typed.plain_text
        else _where(
            text,
            cells,
            fields,
            lambda spec: _INVISIBLE if spec.multiline else _INVISIBLE_SINGLE_LINE,
            lambda values, pattern: pc.match_substring_regex(values, pattern),
        )
    )
    padded = _where(
        text,
        cells,
        fields,
        lambda spec: None if spec.keeps_whitespace else "trimmed",
        lambda values, _: pc.not_equal(values, pc.utf8_trim_whitespace(values)),
    )
    not_nfc = _where(text, cells, fields, lambda spec: "nfc", lambda values, _: _not_nfc(values))
    for spec in fields:
        if spec.name not in hidden and spec.name not in padded and spec.name not in not_nfc:
            continue
        column = text[spec.name]
        pattern = _INVISIBLE if spec.multiline else _INVISIBLE_SINGLE_LINE
        for position in hidden.get(spec.name, ()):
            value = column.iloc[position]
            found = re.search(pattern, value)
            char = found.group() if found else value[:1]
            yield ctx.finding(
                "invisible-character",
                f"the cell holds U+{ord(char):04X} ({unicodedata.name(char, 'control')})",
                name,
                lines[position],
                spec.name,
                value,
                "visible characters only",
            )
        for position in padded.get(spec.name, ()):
            value = column.iloc[position]
            yield ctx.finding(
                "cell-whitespace",
                "the cell "
                + (
                    "starts and ends"
                    if value[:1].isspace() and value[-1:].isspace()
                    else "starts"
                    if value[:1].isspace()
                    else "ends"
                )
                + " with whitespace",
                name,
                lines[position],
                spec.name,
                value,
                value.strip(),
            )
        for position in not_nfc.get(spec.name, ()):
            value = column.iloc[position]
            yield ctx.finding(
                "text-not-nfc",
                "the cell is not in Unicode NFC",
                name,
                lines[position],
                spec.name,
                value,
                unicodedata.normalize("NFC", value),
            )


_BATCH_CELLS = 20_000  # cells a kernel call takes at most when columns are taken together


def _where(text, cells: dict, fields: list, group: Callable, test: Callable) -> dict[str, Any]:
    """The positions, a column, where ``test`` holds (a column's Arrow array from ``cells`` where it is
    there, else made from ``text``). Columns of one ``group`` value are taken together
    (one call for a small table's columns: the call's overhead was most of the cost), up to
    ``_BATCH_CELLS`` a call, so that a large table is still tested a column at a time; columns whose
    group is None are not tested."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = len(text)
    batches: dict[str, list[list[str]]] = {}
    for spec in fields:
        key = group(spec)
        if key is None:
            continue
        open_batches = batches.setdefault(key, [[]])
        if open_batches[-1] and rows * (len(open_batches[-1]) + 1) > _BATCH_CELLS:
            open_batches.append([])
        open_batches[-1].append(spec.name)
    found: dict[str, Any] = {}
    for key, named in batches.items():
        for names in named:
            arrays = [cells[n] if n in cells else arrow_text(text[n]) for n in names]
            values = end_to_end(arrays, pa.large_string())
            result = pc.fill_null(test(values, key), False)
            if not pc.any(result).as_py():
                continue
            flat = result.combine_chunks().to_numpy(zero_copy_only=False)  # kernels may rechunk
            for number, column in enumerate(names):
                positions = np.flatnonzero(flat[number * rows : (number + 1) * rows])
                if len(positions):
                    found[column] = positions
    return found


def _not_nfc(values):
    """Whether each cell changes under NFC; ASCII text is always NFC, so only the rest is normalised."""
    import pyarrow.compute as pc

    other = pc.invert(pc.string_is_ascii(values))
    if not pc.any(other).as_py():
        return other
    changed = pc.not_equal(values, pc.utf8_normalize(pc.if_else(other, values, ""), "NFC"))
    return pc.and_(other, changed)
