"""Rules of text hygiene: every text cell is NFC, holds no hidden characters and no whitespace around it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from ...report import Finding
from ...schema import TypedTable
from ..context import Context, arrow
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
    if text is None:
        return
    name = typed.spec.name
    for spec in typed.spec.fields:
        if spec.name not in text.columns:
            continue
        column = text[spec.name].dropna()
        if column.empty:
            continue
        pattern = _INVISIBLE if spec.multiline else _INVISIBLE_SINGLE_LINE
        if typed.plain_text:
            hidden = column.iloc[:0]
        else:
            hidden = column[column.str.contains(pattern, regex=True).fillna(False).to_numpy(bool)]
        for line, value in hidden.items():
            found = re.search(pattern, value)
            char = found.group() if found else value[:1]
            yield ctx.finding(
                "invisible-character",
                f"the cell holds U+{ord(char):04X} ({unicodedata.name(char, 'control')})",
                name,
                line,
                spec.name,
                value,
                "visible characters only",
            )
        values = arrow(column)
        if not spec.keeps_whitespace:
            padded = pc.not_equal(values, pc.utf8_trim_whitespace(values)).to_numpy(zero_copy_only=False)
            for line, value in column[padded].items():
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
                    line,
                    spec.name,
                    value,
                    value.strip(),
                )
        other = ~pc.string_is_ascii(values).to_numpy(zero_copy_only=False)  # ASCII text is always NFC
        if not other.any():
            continue
        column, values = column[other], arrow(column[other])
        normal = pc.equal(values, pc.utf8_normalize(values, "NFC")).to_numpy(zero_copy_only=False)
        for line, value in column[~normal].items():
            yield ctx.finding(
                "text-not-nfc",
                "the cell is not in Unicode NFC",
                name,
                line,
                spec.name,
                value,
                unicodedata.normalize("NFC", value),
            )
