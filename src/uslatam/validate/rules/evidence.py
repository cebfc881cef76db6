"""Rules of evidence: stored texts match their rows, spans say what they claim, quotes and numbers are in the words."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from ...boundary import DEFAULT_LIMITS, Refused, package_bytes
from ...package import check_path
from ...report import Finding
from ...schema import TypedTable
from ...spans import CONTEXT_WIDTH
from ..context import ENGINE, Context, each_row, python_value, records
from . import rule

QUOTE_OPENERS = '"“'
QUOTE_CLOSERS = '"”'
SPAN_PLACE = ("span_id", "source_id", "start", "end")  # where a cited span is: looked up by the rules that read it
SPAN_STATE = ("texts", "broken_spans")  # what the rules that read a span's words read besides tables


@rule(
    "source-text-missing",
    "source-hash-mismatch",
    "source-size-mismatch",
    "unsafe-path",
    "remote-path",
    "not-a-regular-file",
    "unreadable-file",
    "file-too-large",
    tables=("sources",),
    reads=("package",),
    writes=("texts",),
)
def source_texts(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Each source's stored text exists inside the package and matches its SHA-256 and sizes."""
    sources = typed.frame
    root = ctx.package.root
    for line, row in records(sources):
        source_id, path = row.get("source_id"), row.get("text_path")
        if source_id is None or path is None:
            continue
        problem = check_path(root, path, what=f"text_path of source {source_id!r}")
        if problem:
            yield _at_text_path(problem, typed, line, path)
            continue
        file = root / path
        if not file.exists() and not file.is_symlink():
            yield ctx.finding(
                "source-text-missing", f"the stored text {path} does not exist", "sources", line, "text_path", path
            )
            continue
        try:  # through the trust boundary: contained, a regular file, bounded
            raw = package_bytes(
                root,
                path,
                what=f"text_path of source {source_id!r}",
                limit=DEFAULT_LIMITS.max_text_bytes,
                listed_in=typed.relpath,
            )
        except Refused as refused:
            yield _at_text_path(refused.finding, typed, line, path)
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if row.get("sha256") is not None and digest != row["sha256"]:
            yield ctx.finding(
                "source-hash-mismatch", f"{path} has SHA-256 {digest}", "sources", line, "sha256", row["sha256"], digest
            )
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield ctx.finding(
                "source-text-missing", f"{path} is not UTF-8 (byte {error.start})", "sources", line, "text_path", path
            )
            continue
        if row.get("bytes") is not None and row["bytes"] != len(raw):
            yield ctx.finding(
                "source-size-mismatch", f"{path} has {len(raw)} bytes", "sources", line, "bytes", row["bytes"], len(raw)
            )
        if row.get("code_points") is not None and row["code_points"] != len(text):
            yield ctx.finding(
                "source-size-mismatch",
                f"{path} has {len(text)} code points",
                "sources",
                line,
                "code_points",
                row["code_points"],
                len(text),
            )
        ctx.texts[source_id] = text


def _at_text_path(found: Finding, typed: TypedTable, line: int, path: str) -> Finding:
    """A path finding placed at the source row's ``text_path`` cell."""
    return Finding(
        found.code,
        found.message,
        table="sources",
        file=typed.relpath,
        line=line,
        column="text_path",
        value=path,
        expected=found.expected,
        found_by=(ENGINE,),
    )


@rule(
    "span-out-of-range",
    "span-mismatch",
    "span-context-mismatch",
    tables=("spans",),
    needs={"sources": ()},
    reads=("texts",),
    writes=("broken_spans",),
)
def span_words(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Each span's exact words are the stored text at its offsets; prefix and suffix agree."""
    spans = typed.frame
    columns = ("span_id", "source_id", "start", "end", "exact", "prefix", "suffix")
    if not ctx.texts or any(c not in spans.columns for c in columns):
        return
    width = CONTEXT_WIDTH
    rows = each_row(spans.index, *(spans[c] for c in columns))
    for line, span_id, source_id, start, end, exact, prefix, suffix in rows:
        text = ctx.texts.get(source_id)
        if text is None or start is None or end is None:
            continue
        if not 0 <= start < end <= len(text):
            ctx.broken_spans.add(span_id)
            yield ctx.finding(
                "span-out-of-range",
                f"offsets {start}..{end} are not inside the text of {len(text)} code points",
                "spans",
                line,
                "end" if end > len(text) else "start",
                f"{start}..{end}",
                f"0 <= start < end <= {len(text)}",
            )
            continue
        words = text[start:end]
        if words != (exact or ""):
            ctx.broken_spans.add(span_id)
            yield ctx.finding(
                "span-mismatch", f"the text at {start}..{end} reads {words!r}", "spans", line, "exact", exact, words
            )
            continue
        before, after = text[max(0, start - width) : start], text[end : end + width]
        if (prefix or "") != before:
            yield ctx.finding(
                "span-context-mismatch",
                f"the {width} code points before the span are {before!r}",
                "spans",
                line,
                "prefix",
                prefix,
                before,
            )
        if (suffix or "") != after:
            yield ctx.finding(
                "span-context-mismatch",
                f"the {width} code points after the span are {after!r}",
                "spans",
                line,
                "suffix",
                suffix,
                after,
            )


@rule(
    "span-source-mismatch",
    needs={"spans": ("span_id", "source_id")},
    applies=lambda spec: spec.name != "spans" and "source_id" in spec.field_names and bool(spec.references("spans")),
)
def span_sources(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A fact row's source is the source of every span it cites."""
    frame = typed.frame
    if typed.spec.name == "spans" or "source_id" not in frame.columns:
        return
    for column in typed.spec.references("spans"):
        if column not in frame.columns:
            continue
        cited = ctx.lookup("spans", "span_id", "source_id", typed, column)
        if cited is None:
            return
        differs = (cited.notna() & frame["source_id"].notna() & (cited != frame["source_id"])).fillna(False)
        for line in frame.index[differs.to_numpy(bool)]:
            yield ctx.finding(
                "span-source-mismatch",
                f"span {frame.at[line, column]!r} belongs to source {cited.at[line]!r}",
                typed.spec.name,
                line,
                column,
                frame.at[line, column],
                frame.at[line, "source_id"],
            )


@rule(
    "quote-outside-quotation-marks",
    tables=("quotes",),
    needs={"spans": SPAN_PLACE, "sources": ()},
    reads=SPAN_STATE,
)
def quotes_in_quotation_marks(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A quote's span is exactly the words between quotation marks (pull quotes excepted)."""
    import numpy as np
    import pandas as pd

    quotes = typed.frame
    if "span_id" not in quotes.columns or "quote_type" not in quotes.columns:
        return
    found = [ctx.lookup("spans", "span_id", c, typed, "span_id") for c in ("source_id", "start", "end")]
    if any(f is None for f in found):
        return
    source, start, end = found
    checked = (
        (quotes["quote_type"] != "pull_quote").fillna(True)
        & quotes["span_id"].notna()
        & ~quotes["span_id"].isin(list(ctx.broken_spans))
        & source.notna()
        & start.notna()
        & end.notna()
    ).to_numpy(bool)
    codes, sources = pd.factorize(source)
    for number, source_id in enumerate(sources):
        text = ctx.texts.get(source_id)
        rows = np.flatnonzero(checked & (codes == number))
        if text is None or not len(rows):
            continue
        # The text as code points, so that the characters around every span are read at once.
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        first, last = start.to_numpy("int64", na_value=0)[rows], end.to_numpy("int64", na_value=0)[rows]
        before = np.where((first > 0) & (first <= len(points)), points[np.clip(first - 1, 0, len(points) - 1)], 0)
        after = np.where((last >= 0) & (last < len(points)), points[np.clip(last, 0, len(points) - 1)], 0)
        opened = np.isin(before, [ord(c) for c in QUOTE_OPENERS])
        closed = np.isin(after, [ord(c) for c in QUOTE_CLOSERS])
        for position, before_point, after_point in zip(
            rows[~(opened & closed)], before[~(opened & closed)], after[~(opened & closed)]
        ):
            line, span_id = quotes.index[position], quotes["span_id"].iat[position]
            shown_before = chr(before_point) if before_point else ""
            shown_after = chr(after_point) if after_point else ""
            yield ctx.finding(
                "quote-outside-quotation-marks",
                f"span {span_id!r} is preceded by {shown_before!r} and followed by {shown_after!r}",
                "quotes",
                line,
                "span_id",
                span_id,
                "a quotation mark on each side",
            )


_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_NUMBER_TEXT = re.compile(
    r"(?P<digits>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<decimals>[0-9]+))?"
    r"(?:\s*(?P<scale>thousand|million|billion|trillion)|\s*(?P<percent>%|percent))?"
)


def value_bounds(value_text: str) -> tuple[Decimal, Decimal] | None:
    """The interval of values the words allow: '2.8 million' is 2.75 to 2.85 million.

    Trailing zeros of a whole number count as rounding ('222,000': 221,500 to 222,500).
    A quantifier ('most', 'multi-billion') is no numeral: None.
    """
    words = value_text.strip()
    match = _NUMBER_TEXT.fullmatch(words)
    if not match:
        return None
    digits = match["digits"].replace(",", "")
    decimals = match["decimals"] or ""
    try:
        number = Decimal(f"{digits}.{decimals}" if decimals else digits)
    except InvalidOperation:
        return None
    scale = Decimal(_SCALES.get(match["scale"] or "", 1))
    if decimals:
        unit = Decimal(1).scaleb(-len(decimals))
    else:
        trailing = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
        unit = Decimal(1).scaleb(trailing)
    half = unit / 2 if unit > 1 or decimals else Decimal(0)
    return (number - half) * scale, (number + half) * scale


@rule(
    "value-text-unparsed",
    "value-outside-rounding",
    applies=lambda spec: any(f.value_text for f in spec.fields),
)
def number_words(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A number with ``valueText`` is what its words say, and is set or required only when they are a numeral."""
    import numpy as np

    frame, name = typed.frame, typed.spec.name
    for spec in typed.spec.fields:
        if not spec.value_text or spec.name not in frame.columns or spec.value_text not in frame.columns:
            continue
        # The words must be a numeral where the number is given, or required (requiredWhen: a number kind).
        checked = frame[spec.name].notna().to_numpy(bool).copy()
        for other, condition in (spec.required_when or {}).items():
            if other in frame.columns:
                codes = list(condition) if isinstance(condition, tuple) else None
                if condition == "*":
                    checked |= frame[other].notna().to_numpy(bool)
                elif codes is not None:
                    checked |= frame[other].astype("string").isin(codes).fillna(False).to_numpy(bool)
        # Words and number are checked once per distinct pair; the verdict applies to every row alike.
        pairs = frame.loc[checked, [spec.value_text, spec.name]]
        codes_of = pairs.groupby(list(pairs.columns), dropna=False, sort=False).ngroup().to_numpy()
        _, firsts = np.unique(codes_of, return_index=True)
        verdicts: dict[int, tuple] = {}
        for position in firsts.tolist():
            words, value = (python_value(pairs[c].iat[position]) for c in pairs.columns)
            bounds = value_bounds(words) if words is not None else None
            if words is not None and bounds is None:
                verdicts[codes_of[position]] = ("value-text-unparsed", None)
            elif bounds is not None and value is not None:
                if not math.isfinite(value) or not bounds[0] <= Decimal(repr(float(value))) <= bounds[1]:
                    verdicts[codes_of[position]] = ("value-outside-rounding", bounds)
        for position in np.flatnonzero(np.isin(codes_of, list(verdicts))).tolist():
            line = pairs.index[position]
            words, value = pairs[spec.value_text].iat[position], pairs[spec.name].iat[position]
            code, bounds = verdicts[codes_of[position]]
            if code == "value-text-unparsed":
                message = f"{words!r} is not a numeral (digits, an optional scale word, % or percent)"
                yield ctx.finding(code, message, name, line, spec.value_text, words)
            else:
                low, high = bounds
                message = f"{words!r} means {low} to {high}"
                yield ctx.finding(code, message, name, line, spec.name, value, f"{low}..{high}")


@rule("part-exceeds-whole", "part-unit-mismatch", "parent-relation-mismatch", tables=("statistics",))
def statistic_parts(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A part and its whole go together, share a unit, and the part is no larger."""
    import numpy as np

    stats = typed.frame
    parent, relation = stats["parent_statistic_id"], stats["relation_to_parent"]
    unpaired = (parent.isna() != relation.isna()).to_numpy(bool)
    for position in np.flatnonzero(unpaired).tolist():
        parent_id, relation_value = python_value(parent.iat[position]), python_value(relation.iat[position])
        yield ctx.finding(
            "parent-relation-mismatch",
            "parent_statistic_id and relation_to_parent go together",
            "statistics",
            stats.index[position],
            "relation_to_parent" if parent_id else "parent_statistic_id",
            relation_value or parent_id,
        )
    whole_unit = ctx.lookup("statistics", "statistic_id", "unit", typed, "parent_statistic_id")
    whole = ctx.lookup("statistics", "statistic_id", "value", typed, "parent_statistic_id")
    if whole_unit is None or whole is None:
        return
    has_parent = (parent.notna() & whole_unit.notna()).to_numpy(bool)  # a parent that is no row: the foreign key's
    other_unit = has_parent & (whole_unit != stats["unit"]).fillna(True).to_numpy(bool)
    for position in np.flatnonzero(other_unit).tolist():
        yield ctx.finding(
            "part-unit-mismatch",
            f"the parent {parent.iat[position]!r} is in {whole_unit.iat[position]!r}",
            "statistics",
            stats.index[position],
            "unit",
            python_value(stats["unit"].iat[position]),
            whole_unit.iat[position],
        )
    larger = has_parent & ~other_unit & (stats["value"] > whole).fillna(False).to_numpy(bool)
    for position in np.flatnonzero(larger).tolist():
        value, whole_value = stats["value"].iat[position], whole.iat[position]
        yield ctx.finding(
            "part-exceeds-whole",
            f"{value} is larger than its parent's {whole_value}",
            "statistics",
            stats.index[position],
            "value",
            value,
            f"<= {whole_value}",
        )
