"""Layer: the named rules a Table Schema cannot express.

Each rule is a function registered with the codes it may report. Rules read the
typed tables (indexed by physical line) and the schemas' project properties
(``precisionField``, ``notBefore``, ``codelist``, ``entityTypes``, ``multiline``,
``vocabulary``); none restates a column's type or constraint.
"""

from __future__ import annotations

import hashlib
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..package import Package, check_path
from ..report import Finding
from ..schema import TableSpec, TypedTable
from ..spans import CONTEXT_WIDTH

ENGINE = "rules"
QUOTE_OPENERS = '"“'
QUOTE_CLOSERS = '"”'


@dataclass
class Context:
    package: Package
    tables: dict[str, TypedTable]  # tables read so far: the current one whole, earlier ones cut to RETAINED
    specs: dict[str, TableSpec] = field(default_factory=dict)  # every usable schema, readable table or not
    texts: dict[str, str] = field(default_factory=dict)  # source_id -> stored text, when intact
    broken_spans: set[str] = field(default_factory=set)  # spans whose offsets do not hold: skip, do not re-report
    baseline: object = None  # the last release (uslatam.diff.Snapshot), to check nothing vanished silently
    _positions: dict = field(default_factory=dict)  # (table, column, parent, key) -> positions, see positions()
    gathered: dict = field(default_factory=dict)  # what table rules keep of a whole table for package rules

    def rows(self, table: str):
        typed = self.tables.get(table)
        return typed.frame if typed is not None else None

    def positions(self, typed: TypedTable, column: str, parent: str, parent_key: str):
        """For each row of ``typed``, where in ``parent`` is the row its ``column`` names (null: none), or None.

        One pyarrow hash join per parent key and table: every column of ``typed`` that
        references the same key is looked up in the same call, and the answer is kept
        for the foreign key check and every rule that follows the reference.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        cache_key = (typed.spec.name, column, parent, parent_key)
        if cache_key not in self._positions:
            target = self.tables.get(parent)
            if target is None or parent_key not in target.frame.columns or column not in typed.frame.columns:
                return None
            columns = [
                key.fields[0]
                for key in typed.spec.foreign_keys
                if key.resource == parent
                and key.reference_fields == (parent_key,)
                and key.fields[0] in typed.frame.columns
            ]
            if column not in columns:
                columns.append(column)
            arrays = [_arrow(typed.frame[c]) for c in columns]
            keys = _arrow(target.frame[parent_key])
            arrays = [a.cast(keys.type) if a.type != keys.type else a for a in arrays]
            chunks = [chunk for array in arrays for chunk in getattr(array, "chunks", [array])]
            found = pc.index_in(pa.chunked_array(chunks, type=keys.type), value_set=keys)
            offset = 0
            for name, array in zip(columns, arrays):
                self._positions[(typed.spec.name, name, parent, parent_key)] = found.slice(offset, len(array))
                offset += len(array)
        return self._positions[cache_key]

    def lookup(self, table: str, key: str, column: str, typed: TypedTable, reference: str):
        """``table.column`` of the row that ``typed.reference`` names, per row of ``typed`` (NA where none)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        frame = self.rows(table)
        if frame is None or column not in frame.columns:
            return None
        positions = self.positions(typed, reference, table, key)
        if positions is None:
            return None
        taken = pc.take(_arrow(frame[column]), positions)
        if pa.types.is_dictionary(taken.type):
            taken = taken.cast(taken.type.value_type)
        result = taken.to_pandas(types_mapper=_pandas_type)
        result.index = typed.frame.index
        return result

    def forget(self, table: str) -> None:
        """Let go of the lookups made for ``table`` (once it is checked)."""
        self._positions = {k: v for k, v in self._positions.items() if k[0] != table}

    def finding(
        self, code: str, message: str, table: str, line=None, column=None, value=None, expected=None
    ) -> Finding:
        typed = self.tables.get(table)
        return Finding(
            code,
            message,
            table=table,
            file=typed.relpath if typed else None,
            line=int(line) if line is not None else None,
            column=column,
            value=None if value is None else str(value),
            expected=None if expected is None else str(expected),
            found_by=(ENGINE,),
        )


# Tables read before the others: every table's rules look them up.
READ_FIRST = ("retractions",)

# Columns of a table that rules of later tables look up, kept after the table is checked;
# everything else of a large table is let go (primary and foreign key columns are kept too).
RETAINED = {
    "sources": ("source_id", "published"),
    "spans": ("span_id", "source_id", "start", "end"),
    "entities": ("entity_id", "entity_type"),
    "occupancies": ("occupancy_id", "person_entity_id"),
    "vocabularies": ("vocabulary", "code", "admits"),
    "retractions": ("table_name", "row_id", "replacement_id"),
}

TableRule = Callable[[Context, TypedTable], Iterator[Finding]]
PackageRule = Callable[[Context], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    codes: tuple[str, ...]
    function: Callable
    tables: tuple[str, ...] | None = None  # the tables it checks; None: every table (package rules: none)
    needs: tuple[str, ...] = ()  # tables that must be read first (their RETAINED columns are looked up)
    per_table: bool = True
    applies: Callable[[TableSpec], bool] | None = None  # whether a table's schema gives the rule anything to check


RULES: list[Rule] = []


def rule(
    *codes: str,
    tables: tuple[str, ...] | None = None,
    needs: tuple[str, ...] = (),
    applies: Callable[[TableSpec], bool] | None = None,
):
    """Register a rule that checks one table at a time, once the tables it ``needs`` are read."""

    def register(function: TableRule) -> TableRule:
        RULES.append(Rule(function.__name__, codes, function, tables, needs, applies=applies))
        return function

    return register


def package_rule(*codes: str):
    """Register a rule that runs once, after every table is read."""

    def register(function: PackageRule) -> PackageRule:
        RULES.append(Rule(function.__name__, codes, function, per_table=False))
        return function

    return register


def _arrow(series):
    import pyarrow as pa

    array = pa.array(series)
    if pa.types.is_string(array.type):
        return array.cast(pa.large_string())
    return array


def _pandas_type(arrow_type):
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_large_string(arrow_type) or pa.types.is_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    return None


def _records(frame):
    """(line, row dict) for every row; NA becomes None. For small tables and the rows that failed."""
    columns = list(frame.columns)
    for line, values in zip(frame.index, frame.itertuples(index=False, name=None)):
        yield int(line), {c: (None if _is_missing(v) else v) for c, v in zip(columns, values)}


def _values(series) -> list:
    """A column as a Python list with None for missing, for the loops that must look at each cell."""
    return _arrow(series).to_pylist()


def _each(index, *columns, size: int = 1 << 16):
    """(line, value, ...) per row, as Python values (None for missing), made a chunk at a time:
    a million rows never exist as Python objects all at once."""
    for start in range(0, len(index), size):
        stop = start + size
        yield from zip(index[start:stop].tolist(), *(_values(column.iloc[start:stop]) for column in columns))


def _is_missing(value) -> bool:
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --- evidence ------------------------------------------------------------------------


@rule(
    "source-text-missing",
    "source-hash-mismatch",
    "source-size-mismatch",
    "unsafe-path",
    "remote-path",
    tables=("sources",),
)
def source_texts(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Each source's stored text exists inside the package and matches its SHA-256 and sizes."""
    sources = typed.frame
    root = ctx.package.root
    for line, row in _records(sources):
        source_id, path = row.get("source_id"), row.get("text_path")
        if source_id is None or path is None:
            continue
        problem = check_path(root, path, what=f"text_path of source {source_id!r}")
        if problem:
            yield Finding(
                problem.code,
                problem.message,
                table="sources",
                file=ctx.tables["sources"].relpath,
                line=line,
                column="text_path",
                value=path,
                expected=problem.expected,
                found_by=(ENGINE,),
            )
            continue
        file = root / path
        if not file.is_file():
            yield ctx.finding(
                "source-text-missing", f"the stored text {path} does not exist", "sources", line, "text_path", path
            )
            continue
        raw = file.read_bytes()
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


@rule("span-out-of-range", "span-mismatch", "span-context-mismatch", tables=("spans",), needs=("sources",))
def span_words(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Each span's exact words are the stored text at its offsets; prefix and suffix agree."""
    spans = typed.frame
    columns = ("span_id", "source_id", "start", "end", "exact", "prefix", "suffix")
    if not ctx.texts or any(c not in spans.columns for c in columns):
        return
    width = CONTEXT_WIDTH
    for line, span_id, source_id, start, end, exact, prefix, suffix in _each(spans.index, *(spans[c] for c in columns)):
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


def _span_fields(typed: TypedTable) -> list[str]:
    return _span_fields_of(typed.spec)


def _span_fields_of(spec: TableSpec) -> list[str]:
    return [key.fields[0] for key in spec.foreign_keys if key.resource == "spans" and len(key.fields) == 1]


@rule(
    "span-source-mismatch",
    needs=("spans",),
    applies=lambda spec: spec.name != "spans" and "source_id" in spec.field_names and bool(_span_fields_of(spec)),
)
def span_sources(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A fact row's source is the source of every span it cites."""
    frame = typed.frame
    if typed.spec.name == "spans" or "source_id" not in frame.columns:
        return
    for column in _span_fields(typed):
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


@rule("quote-outside-quotation-marks", tables=("quotes",), needs=("spans", "sources"))
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
            words, value = (_python(pairs[c].iat[position]) for c in pairs.columns)
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
        parent_id, relation_value = _python(parent.iat[position]), _python(relation.iat[position])
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
            _python(stats["unit"].iat[position]),
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


def _python(value):
    """A cell as a plain Python value, None for missing."""
    if _is_missing(value):
        return None
    return value.item() if hasattr(value, "item") else value


# --- cross-table consistency -----------------------------------------------------------


@rule("entity-type-mismatch", needs=("entities",), applies=lambda spec: any(f.entity_types for f in spec.fields))
def entity_types(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A reference whose field lists ``entityTypes`` names an entity of one of those types."""
    frame = typed.frame
    for spec in typed.spec.fields:
        if not spec.entity_types or spec.name not in frame.columns:
            continue
        actual = ctx.lookup("entities", "entity_id", "entity_type", typed, spec.name)
        if actual is None:
            return
        wrong = (actual.notna() & ~actual.isin(list(spec.entity_types))).fillna(False)
        for line in frame.index[wrong.to_numpy(bool)]:
            entity = frame.at[line, spec.name]
            yield ctx.finding(
                "entity-type-mismatch",
                f"{entity!r} is a {actual.at[line]}",
                typed.spec.name,
                line,
                spec.name,
                entity,
                " or ".join(spec.entity_types),
            )


@rule("speaker-occupancy-mismatch", tables=("quotes",), needs=("occupancies",))
def speaker_offices(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A quote's speaker_occupancy_id is an office of the quote's own speaker."""
    quotes = typed.frame
    holder = ctx.lookup("occupancies", "occupancy_id", "person_entity_id", typed, "speaker_occupancy_id")
    if holder is None:
        return
    speaker = quotes["speaker_entity_id"]
    wrong = (holder.notna() & (speaker.isna() | (holder != speaker))).fillna(False)
    for line in quotes.index[wrong.to_numpy(bool)]:
        occupancy = quotes.at[line, "speaker_occupancy_id"]
        speaker_id = speaker.at[line]
        yield ctx.finding(
            "speaker-occupancy-mismatch",
            f"occupancy {occupancy!r} is held by {holder.at[line]!r}",
            "quotes",
            line,
            "speaker_occupancy_id",
            occupancy,
            None if _is_missing(speaker_id) else speaker_id,
        )


_PRECISION_LENGTH = {"day": 10, "month": 7, "year": 4, "unknown": 0}
_DATE_FORM = r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?"
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _real_dates(dates, well_formed):
    """Which well-formed date prefixes (YYYY, YYYY-MM, YYYY-MM-DD) name a real calendar year, month or day."""
    import numpy as np
    import pyarrow.compute as pc

    text = _arrow(dates.where(well_formed, "0001-01-01").fillna("0001-01-01"))
    length = pc.utf8_length(text)

    def part(start: int, stop: int, needed: int):
        piece = pc.if_else(pc.greater_equal(length, needed), pc.utf8_slice_codeunits(text, start, stop), "01")
        return pc.cast(piece, "int64").to_numpy()

    year, month, day = part(0, 4, 4), part(5, 7, 7), part(8, 10, 10)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days = np.array(_DAYS_IN_MONTH)[np.clip(month, 0, 12)] + ((month == 2) & leap)
    return (year >= 1) & month_ok & (day >= 1) & (day <= days)


def _compare_prefix(dates, bounds, mask, compare):
    """Rows of ``mask`` where ``compare(date, bound cut to the date's own length)`` (ISO text order)."""
    import pandas as pd

    result = pd.Series(False, index=dates.index)
    lengths = dates.str.len()
    for length in (4, 7, 10):
        rows = (mask & (lengths == length)).fillna(False).to_numpy(bool)
        if rows.any():
            result[rows] = compare(dates[rows], bounds[rows].str.slice(0, length)).fillna(False).to_numpy(bool)
    return result


@rule(
    "invalid-date",
    "date-precision-mismatch",
    "date-end-before-start",
    "date-after-publication",
    needs=("sources",),
    applies=lambda spec: any(f.precision_field for f in spec.fields),
)
def dates(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Date prefixes are real dates, as precise as stated, ordered, and not after publication."""
    import numpy as np
    import pandas as pd

    name, frame = typed.spec.name, typed.frame
    for spec in typed.spec.fields:
        if not spec.precision_field or spec.precision_field not in frame.columns or spec.name not in frame.columns:
            continue
        date, precision = frame[spec.name], frame[spec.precision_field]
        present = date.notna().to_numpy(bool)
        well_formed = date.str.fullmatch(_DATE_FORM).fillna(False).to_numpy(bool)  # else the pattern reports it
        real = _real_dates(date, well_formed)
        invalid = present & well_formed & ~real
        for line in frame.index[invalid]:
            value = date.at[line]
            yield ctx.finding("invalid-date", f"{value!r} is not a calendar date", name, line, spec.name, value)
        usable = ~present | (well_formed & real)
        length = date.str.len().fillna(0).to_numpy(int)
        expected = precision.map(_PRECISION_LENGTH).astype("Int64")
        optional_end = ~present if spec.not_before is not None else np.zeros(len(frame), dtype=bool)
        wrong = usable & expected.notna().to_numpy(bool) & (length != expected.fillna(-1).to_numpy(int)) & ~optional_end
        for line in frame.index[wrong]:
            value = date.at[line]
            shown = "an empty date" if _is_missing(value) else value
            wanted = _PRECISION_LENGTH[precision.at[line]]
            yield ctx.finding(
                "date-precision-mismatch",
                f"{shown!r} is not a date of precision {precision.at[line]}",
                name,
                line,
                spec.name,
                None if _is_missing(value) else value,
                f"{wanted} characters",
            )
        checked = pd.Series(present & well_formed & real, index=frame.index)
        if spec.not_before and spec.not_before in frame.columns:
            start = frame[spec.not_before]
            early = _compare_prefix(date, start, checked & start.notna(), operator.lt)
            for line in frame.index[early.to_numpy(bool)]:
                yield ctx.finding(
                    "date-end-before-start",
                    f"{date.at[line]} is before {spec.not_before} {start.at[line]}",
                    name,
                    line,
                    spec.name,
                    date.at[line],
                    f">= {start.at[line]}",
                )
        if "source_id" in frame.columns:
            published = ctx.lookup("sources", "source_id", "published", typed, "source_id")
            if published is None:
                continue
            issued = published.dt.strftime("%Y-%m-%d").astype("string")
            late = _compare_prefix(date, issued, checked & issued.notna(), operator.gt)
            for line in frame.index[late.to_numpy(bool)]:
                yield ctx.finding(
                    "date-after-publication",
                    f"{date.at[line]} is after the source's publication on {issued.at[line]}",
                    name,
                    line,
                    spec.name,
                    date.at[line],
                    f"<= {issued.at[line]}",
                )


@rule("unknown-country-code", applies=lambda spec: any(f.codelist for f in spec.fields))
def country_codes(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Fields with ``codelist: ISO 3166-1 alpha-3`` hold real ISO 3166-1 alpha-3 codes."""
    import pycountry

    known = [country.alpha_3 for country in pycountry.countries]
    for spec in typed.spec.fields:
        if spec.codelist != "ISO 3166-1 alpha-3" or spec.name not in typed.frame.columns:
            continue
        codes = typed.frame[spec.name]
        unknown = (codes.notna() & ~codes.isin(known)).fillna(False).to_numpy(bool)
        for line, code in codes[unknown].items():
            yield ctx.finding(
                "unknown-country-code",
                f"{code!r} is not an ISO 3166-1 alpha-3 code",
                typed.spec.name,
                line,
                spec.name,
                code,
            )


@package_rule("vocabulary-mismatch")
def vocabularies(ctx: Context) -> Iterator[Finding]:
    """Every field naming a ``vocabulary`` has an enum equal to that vocabulary's codes, in order."""
    table = ctx.rows("vocabularies")
    if table is None:
        return
    codes: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    for line, row in _records(table[["vocabulary", "code"]]):
        codes.setdefault(row["vocabulary"], []).append(row["code"])
        first_line.setdefault(row["vocabulary"], line)
    used = set()
    for name, table_spec in ctx.specs.items():
        for spec in table_spec.fields:
            if spec.vocabulary is None:
                continue
            used.add(spec.vocabulary)
            defined = codes.get(spec.vocabulary)
            enum = list(spec.enum or [])
            if defined != enum:
                yield Finding(
                    "vocabulary-mismatch",
                    f"{name}.{spec.name} has enum {enum}, vocabulary {spec.vocabulary!r} has {defined}",
                    table=name,
                    file=ctx.package.resource(name).schema_path,
                    column=spec.name,
                    value=str(enum),
                    expected=str(defined),
                    found_by=(ENGINE,),
                )
    for vocabulary in sorted(set(codes) - used, key=str):
        yield ctx.finding(
            "vocabulary-mismatch",
            f"vocabulary {vocabulary!r} is used by no field",
            "vocabularies",
            first_line[vocabulary],
            "vocabulary",
            vocabulary,
        )


def joined_cells(frame, fields, separator: str, missing: str | None = None):
    """The cells of ``fields`` as one string per row; a missing cell is ``missing`` (None: the row is missing)."""
    columns = [frame[f].astype("string") for f in fields]
    if missing is not None:
        columns = [column.fillna(missing) for column in columns]
    joined = columns[0]
    for column in columns[1:]:
        joined = joined + separator + column
    return joined


def _keys(typed: TypedTable):
    """Each row's primary key as text (fields joined by '|', as releases record it)."""
    return joined_cells(typed.frame, typed.spec.primary_key, "|", missing="")


def _isin(values, keys):
    """``values.isin(keys)`` as pyarrow hash lookups (pandas' isin on strings is far slower).

    The smaller side is hashed: a few retracted IDs against a million keys hash the IDs
    and probe with the keys, instead of hashing the million keys again.
    """
    import numpy as np
    import pyarrow.compute as pc

    values_array, keys_array = _arrow(values), _arrow(keys)
    if len(values_array) * 4 >= len(keys_array):
        return pc.is_in(values_array, value_set=keys_array).to_numpy(zero_copy_only=False)
    first = pc.index_in(values_array, value_set=values_array).to_numpy(zero_copy_only=False)  # equal values alike
    matched = pc.index_in(keys_array, value_set=values_array).drop_null().to_numpy(zero_copy_only=False)
    hit = np.zeros(len(values_array), dtype=bool)
    hit[matched] = True
    return hit[np.nan_to_num(first, nan=0).astype(np.int64)] & ~np.isnan(first.astype(float))


@rule(
    "retracted-id-reused",
    "retraction-error",
    "removed-without-retraction",
    needs=("retractions",),
    applies=lambda spec: bool(spec.primary_key) and spec.name != "retractions",
)
def retracted_rows(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A retracted ID stays unused, a replacement is a row, and no released row vanishes silently.

    Runs as each table is read (``retractions`` is read first), against the table's whole key.
    """
    import pandas as pd

    table = ctx.rows("retractions")
    if table is None or any(c not in typed.frame.columns for c in typed.spec.primary_key):
        return
    name = typed.spec.name
    keys = _keys(typed)
    mine = table[(table["table_name"].astype("string") == name).fillna(False).to_numpy(bool)]
    row_ids, replacement = mine["row_id"].astype("string"), mine["replacement_id"].astype("string")
    if len(mine):
        found = _isin(pd.concat([row_ids, replacement]).fillna(""), keys)  # one hash set for both columns
        reused = found[: len(mine)] & row_ids.notna().to_numpy(bool)
        for line, row_id in row_ids[reused].items():
            yield ctx.finding(
                "retracted-id-reused", f"{name} has a row {row_id!r} again", "retractions", line, "row_id", row_id
            )
        unknown = replacement.notna().to_numpy(bool) & ~found[len(mine) :]
        for line, value in replacement[unknown].items():
            yield ctx.finding(
                "retraction-error",
                f"the replacement {value!r} is not a row of {name}",
                "retractions",
                line,
                "replacement_id",
                value,
            )
    baseline = ctx.baseline
    old_rows = baseline.tables.get(name) if baseline is not None else None
    if not old_rows:
        return
    old = pd.Series(["|".join(r.get(c, "") for c in typed.spec.primary_key) for r in old_rows], dtype="string")
    retracted = set(row_ids.dropna().tolist())
    for key in old[~_isin(old, keys)].tolist():
        if key in retracted:
            continue
        yield Finding(
            "removed-without-retraction",
            f"{name} row {key!r} of release {baseline.label} is gone without a retraction",
            table=name,
            file=typed.relpath,
            value=key,
            expected="the row, or a retraction record",
            found_by=(ENGINE,),
        )


@package_rule("retraction-error")
def retraction_tables(ctx: Context) -> Iterator[Finding]:
    """Retractions name tables of the package."""
    table = ctx.rows("retractions")
    if table is None:
        return
    names = table["table_name"].astype("string")
    declared = [r.get("name") for r in ctx.package.descriptor.get("resources") or [] if isinstance(r, dict)]
    unknown = (names.notna() & ~names.isin(declared)).to_numpy(bool)  # declared: an unreadable table is one too
    for line, name in names[unknown].items():
        yield ctx.finding(
            "retraction-error", f"{name!r} is not a table of the package", "retractions", line, "table_name", name
        )


_RELEASE_HEADING = re.compile(r"^## \[?v?(?P<version>[0-9]+\.[0-9]+\.[0-9]+[^\]\s]*)\]?", re.MULTILINE)


def released_versions(changelog: str) -> list[str]:
    """Versions of CHANGELOG.md's released sections, newest first (Unreleased is skipped)."""
    return [m["version"] for m in _RELEASE_HEADING.finditer(changelog)]


@package_rule("version-mismatch")
def versions(ctx: Context) -> Iterator[Finding]:
    """datapackage.json, CITATION.cff and CHANGELOG.md's newest release name the same version."""
    from ..package import UnsafeYaml, load_yaml

    version = ctx.package.descriptor.get("version")
    root = ctx.package.root
    citation_file = root / "CITATION.cff"
    if citation_file.is_file() and not citation_file.is_symlink():
        try:
            citation = load_yaml(citation_file.read_text(encoding="utf-8"))
        except (UnsafeYaml, UnicodeDecodeError) as error:
            yield Finding(
                "version-mismatch", f"CITATION.cff cannot be read: {error}", file="CITATION.cff", found_by=(ENGINE,)
            )
            citation = None
        cited = str(citation.get("version")) if isinstance(citation, dict) and "version" in citation else None
        if cited != version:
            yield Finding(
                "version-mismatch",
                f"CITATION.cff has version {cited!r}, datapackage.json {version!r}",
                file="CITATION.cff",
                line=_line_of(citation_file, "version:"),
                column="version",
                value=cited,
                expected=version,
                found_by=(ENGINE,),
            )
    changelog_file = root / "CHANGELOG.md"
    if changelog_file.is_file() and not changelog_file.is_symlink():
        released = released_versions(changelog_file.read_text(encoding="utf-8", errors="replace"))
        if released and released[0] != version:
            yield Finding(
                "version-mismatch",
                f"CHANGELOG.md's newest release is {released[0]!r}, datapackage.json {version!r}",
                file="CHANGELOG.md",
                line=_line_of(changelog_file, f"## [{released[0]}]"),
                value=released[0],
                expected=version,
                found_by=(ENGINE,),
            )


def _line_of(path, needle: str) -> int | None:
    for number, text in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if text.startswith(needle):
            return number
    return None


# --- text hygiene ----------------------------------------------------------------------

_INVISIBLE = "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u061c]"
_INVISIBLE_SINGLE_LINE = "[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u061c]"


@rule("text-not-nfc", "invisible-character")
def text_hygiene(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Text cells are NFC and hold no control, zero-width or bidi characters.

    Line ends are allowed only in fields marked ``multiline``.
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
            char = re.search(pattern, value).group()
            yield ctx.finding(
                "invisible-character",
                f"the cell holds U+{ord(char):04X} ({unicodedata.name(char, 'control')})",
                name,
                line,
                spec.name,
                value,
                "visible characters only",
            )
        values = _arrow(column)
        other = ~pc.string_is_ascii(values).to_numpy(zero_copy_only=False)  # ASCII text is always NFC
        if not other.any():
            continue
        column, values = column[other], _arrow(column[other])
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


def table_rules(name: str, spec: TableSpec | None = None) -> list[Rule]:
    """The rules that check table ``name``, in order."""
    return [
        r
        for r in RULES
        if r.per_table
        and (r.tables is None or name in r.tables)
        and (r.applies is None or spec is None or r.applies(spec))
    ]


def run_table(ctx: Context, rule_: Rule, typed: TypedTable) -> list[Finding]:
    return list(rule_.function(ctx, typed))


def run_package(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for rule_ in RULES:
        if not rule_.per_table:
            findings.extend(rule_.function(ctx))
    return findings


def catalogue() -> list[tuple[str, tuple[str, ...], str]]:
    """(rule name, codes, first line of its docstring) for documentation."""
    return [(r.name, r.codes, (r.function.__doc__ or "").strip().splitlines()[0]) for r in RULES]
