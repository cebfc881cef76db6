"""Layer: a row's cited words support what the row states, checked from the schemas' support properties.

Field properties (nothing here names a fact table):

- ``requiredWhen`` / ``emptyWhen``: a value is needed, or not allowed, given another field's code;
- ``notBelow``: an integer is not less than another field of the row;
- ``idDateField``: a date embedded in the row's ID agrees with the row's date;
- ``basisField`` (with ``precisionField``, ``dateSpanField``, ``inheritsFrom``): the date is what its
  basis says (the publication date, the inherited row's date, or the year, month and day its
  span's words give);
- ``asWrittenIn``: a ``*_as_written`` value occurs in the words of the row's span;
- ``mentionedIn``: the entity the row names is mentioned inside the row's span (a name, title or
  demonym, or a pronoun or description whose antecedents lead to one), in the table whose schema
  declares ``"mentions": true``;
- ``admitsTypeOf``: the code admits the referenced entity's type (``vocabularies.admits``);
- ``referenceTableField``: an ID is a key of the table another field names;

and, when the descriptor sets ``"uslatam": {"coverage": true}``, every sentence, quotation,
number, date and name of each source's body is cited by a row or covered by an exclusion
(:mod:`uslatam.units`).

Rules that need rows of two tables keep what they need of each whole table in
``Context.gathered`` and compare in a package rule, so the order tables are read in does
not matter.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from ...report import Finding
from ...schema import Condition, FieldSpec, TableSpec, TypedTable
from ...units import CITES, EXCLUDES, MONTH_NAMES, NAMES, uncovered
from ..context import ENGINE, Context, arrow, arrow_text, cell_values, each_row, isin, iso_text
from . import gather, package_rule, rule
from .evidence import SPAN_PLACE, SPAN_STATE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SPANS = "spans"
ENTITY_TYPE = "entity_type"  # the column of the entities table a code's ``admits`` list names
# What the rules of this family read of other tables (the sources' date is the field marked publicationDate).
READS_SPANS = {SPANS: SPAN_PLACE, "sources": ()}
READS_DATES = {**READS_SPANS, "sources": ("source_id", "published")}
READS_ENTITIES = {"entities": ("entity_id", ENTITY_TYPE)}

# The date bases whose meaning the checks know (vocabulary date_basis in data/vocabularies.csv).
AS_OF_PUBLICATION, FROM_EVENT = "as_of_publication", "from_event"
EXPLICIT, YEAR_FROM_PUBLICATION = "explicit", "year_from_publication"


def _frame(typed: TypedTable) -> pd.DataFrame:
    return cast("pd.DataFrame", typed.frame)


def _fields(spec: TableSpec, attribute: str) -> list[FieldSpec]:
    return [f for f in spec.fields if getattr(f, attribute)]


def _reference(spec: TableSpec, column: str | None) -> tuple[str, str] | None:
    """(table, key field) the single-field foreign key on ``column`` references."""
    if column is None:
        return None
    for key in spec.foreign_keys:
        if key.fields == (column,):
            return key.resource, key.reference_fields[0]
    return None


def _holds(column, condition: Condition):
    """Rows where another field meets a requiredWhen / emptyWhen condition."""
    if condition is None:
        found = column.isna()
    elif condition == "*":
        found = column.notna()
    else:
        found = column.astype("string").isin(list(condition))
    return found.fillna(False).to_numpy(bool)


def _said(other: str, condition: Condition, value: object) -> str:
    if condition is None:
        return f"{other} is empty"
    if condition == "*":
        return f"{other} has a value"
    return f"{other} is {value}"


def _span_words(ctx: Context, spans: SpanColumns, transform=None) -> list:
    """Per row, the words of its span (``transform``-ed), None where it has none or its text is not stored.

    A span cited by many rows is cut from its text (and transformed) once."""
    import numpy as np

    rows = np.flatnonzero(spans.codes >= 0)
    if not len(rows):
        return [None] * len(spans.codes)
    codes, starts, ends = spans.codes[rows], spans.starts[rows], spans.ends[rows]
    order = np.lexsort((ends, starts, codes))
    codes, starts, ends = codes[order], starts[order], ends[order]
    new = np.ones(len(order), dtype=bool)  # where a span differs from the one before it in that order
    new[1:] = (np.diff(codes) != 0) | (np.diff(starts) != 0) | (np.diff(ends) != 0)
    cut = []
    for code, start, end in zip(codes[new].tolist(), starts[new].tolist(), ends[new].tolist()):
        text = ctx.texts.get(spans.sources[code])
        cut.append(None if text is None else text[start:end] if transform is None else transform(text[start:end]))
    distinct = np.full(len(spans.codes), len(cut), dtype=np.int64)  # len(cut): the row has none
    distinct[rows[order]] = np.cumsum(new) - 1
    every = np.empty(len(cut) + 1, dtype=object)  # the cut words and None, taken by each row in one call
    every[: len(cut)] = cut
    return every[distinct].tolist()


def _flat(text: str) -> str:
    """Runs of white space as one space, none at the ends (split() splits where \\s+ matches, faster)."""
    return " ".join(text.split())


# --- conditions ------------------------------------------------------------------------


@rule("conditional-constraint", applies=lambda spec: any(f.required_when or f.empty_when for f in spec.fields))
def conditional_constraints(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A field has a value when ``requiredWhen`` holds, and none when ``emptyWhen`` holds."""
    frame, name = _frame(typed), typed.spec.name
    holds: dict = {}  # (field, condition) -> rows where it holds: fields share conditions
    for spec in typed.spec.fields:
        if spec.name not in frame.columns or not (spec.required_when or spec.empty_when):
            continue
        present = frame[spec.name].notna().to_numpy(bool)
        unparsed = typed.bad_cells.get(spec.name)  # text of the wrong type: its own finding, neither empty nor a value
        judged = ~unparsed.to_numpy(bool) if unparsed is not None else True  # type: ignore[attr-defined]
        for conditions, must_be_empty in ((spec.required_when, False), (spec.empty_when, True)):
            for other, condition in (conditions or {}).items():
                if other not in frame.columns:
                    continue
                if (other, condition) not in holds:
                    holds[other, condition] = _holds(frame[other], condition)
                wrong = holds[other, condition] & (present if must_be_empty else ~present) & judged
                for line in frame.index[wrong]:
                    said = _said(other, condition, frame.at[line, other])
                    if must_be_empty:
                        yield ctx.finding(
                            "conditional-constraint",
                            f"{spec.name} must be empty when {said}",
                            name,
                            line,
                            spec.name,
                            frame.at[line, spec.name],
                            "empty",
                        )
                    else:
                        yield ctx.finding(
                            "conditional-constraint", f"{spec.name} is required when {said}", name, line, spec.name
                        )


@rule("constraint-error", applies=lambda spec: any(f.not_below for f in spec.fields))
def not_below(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A number with ``notBelow`` is not less than the field it names."""
    frame = _frame(typed)
    for spec in _fields(typed.spec, "not_below"):
        other = spec.not_below
        if spec.name not in frame.columns or other not in frame.columns:
            continue
        below = (frame[spec.name] < frame[other]).fillna(False).to_numpy(bool)
        for line in frame.index[below]:
            value, bound = frame.at[line, spec.name], frame.at[line, other]
            yield ctx.finding(
                "constraint-error",
                f"{spec.name} {value} is below {other} {bound}",
                typed.spec.name,
                line,
                spec.name,
                value,
                f">= {bound}",
            )


# --- dates -----------------------------------------------------------------------------

# A date in an ID: a year 1900-2100 as its own hyphen-separated token, then a month and a day if given.
_ID_DATE = re.compile(
    r"(?:^|-)(?P<year>19[0-9]{2}|20[0-9]{2}|2100)(?=-|$)"
    r"(?:-(?P<month>0[1-9]|1[0-2])(?=-|$)(?:-(?P<day>0[1-9]|[12][0-9]|3[01])(?=-|$))?)?"
)


def id_dates(identifier: str) -> list[str]:
    """The dates (YYYY, YYYY-MM or YYYY-MM-DD) an ID embeds, in order."""
    return ["-".join(p for p in m.group("year", "month", "day") if p) for m in _ID_DATE.finditer(identifier)]


@rule("id-date-mismatch", applies=lambda spec: any(f.id_date_field for f in spec.fields))
def id_date(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """An ID that embeds a date belongs to a row whose ``idDateField`` starts with that date."""
    frame = _frame(typed)
    for spec in _fields(typed.spec, "id_date_field"):
        date_field = spec.id_date_field
        if spec.name not in frame.columns or date_field not in frame.columns:
            continue
        settled = _settled_on_columns(frame[spec.name], frame[date_field])
        rest = frame[~settled] if settled.any() else frame
        for line, identifier, date in each_row(rest.index, rest[spec.name], rest[date_field]):
            embedded = id_dates(identifier) if identifier else []
            if date is not None and not _real_date(date):
                continue  # not a date at all: the pattern or the dates rule reports it
            if not embedded or (date is not None and any(date.startswith(d) for d in embedded)):
                continue
            shown = repr(date) if date is not None else "empty"
            yield ctx.finding(
                "id-date-mismatch",
                f"the ID names the date {embedded[0]}, but {date_field} is {shown}",
                typed.spec.name,
                line,
                spec.name,
                identifier,
                f"{date_field} starting with {' or '.join(embedded)}",
            )


# The first date an ID embeds, as RE2 finds it: _ID_DATE with its look-aheads as consumed separators.
_FIRST_ID_DATE = (
    r"(?:^|-)(?P<date>(?:19[0-9]{2}|20[0-9]{2}|2100)(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12][0-9]|3[01]))?)?)(?:-|$)"
)


_YEAR_DIGITS = r"19[0-9]{2}|20[0-9]{2}|2100"


def _settled_on_columns(identifiers, dates) -> np.ndarray:
    """Rows settled on whole columns: the ID embeds no date, or the date starts with the first
    one it embeds. Only the others (no date, another date, an ID with more than one) are judged
    a row at a time."""
    import pyarrow.compute as pc

    ids = arrow(identifiers)
    first = pc.struct_field(pc.extract_regex(ids, _FIRST_ID_DATE), "date")
    date = arrow(dates)
    # no digits that could be a year: no date to agree with (a looser test than _ID_DATE, so never wrong)
    agrees = ~pc.match_substring_regex(ids, _YEAR_DIGITS).fill_null(False).to_numpy(zero_copy_only=False)
    width = pc.utf8_length(first)
    for length in (4, 7, 10):
        same = pc.and_(pc.equal(width, length), pc.equal(pc.utf8_slice_codeunits(date, 0, length), first))
        agrees |= same.fill_null(False).to_numpy(zero_copy_only=False)
    return agrees


def _publication_dates(ctx: Context, typed: TypedTable):
    """Per row, the publication date (YYYY-MM-DD) of the row's source as Arrow text (null where
    none): the referenced field that declares ``publicationDate``."""
    for key in typed.spec.foreign_keys:
        target = ctx.specs.get(key.resource)
        if target is None or len(key.fields) != 1:
            continue
        published = next((f.name for f in target.fields if f.publication_date), None)
        if published is None:
            continue
        found = ctx.lookup_array(key.resource, key.reference_fields[0], published, typed, key.fields[0])
        return None if found is None else iso_text(found)
    return None


_DATE_PREFIX = re.compile(r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?")


@lru_cache(maxsize=1 << 16)  # a table repeats its dates: each distinct one is judged once
def _real_date(date: str) -> bool:
    """A YYYY, YYYY-MM or YYYY-MM-DD prefix of a calendar date (others are the dates rule's findings)."""
    if not _DATE_PREFIX.fullmatch(date):
        return False
    parts = [int(p) for p in date.split("-")] + [1, 1]
    try:
        datetime.date(max(parts[0], 1), parts[1], parts[2])
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1 << 16)  # rows citing one span with one date are judged once
def _date_words(date: str, words: str, basis: str, published: str | None) -> str | None:
    """What the date span's words fail to give of the date, or None."""
    if not _real_date(date):
        return None
    year = date[:4]
    if basis == EXPLICIT and not re.search(rf"(?<![0-9]){year}(?![0-9])", words):
        return f"the date words {words!r} do not give the year {year}"
    if basis == YEAR_FROM_PUBLICATION and published is not None and published[:4] != year:
        return f"the year {year} is not the publication year {published[:4]}"
    if len(date) >= 7:
        month = int(date[5:7])
        name = MONTH_NAMES[month - 1].lower()
        numeric = rf"(?<![0-9])(?:{year}[-/.]0?{month}(?![0-9])|0?{month}[-/.](?:[0-9]{{1,2}}[-/.])?{year})"
        named = rf"\b(?:{name}|{name[:3]}\.?|{name[:4]}\.?)\b"
        if not re.search(named, words, re.IGNORECASE) and not re.search(numeric, words):
            return f"the date words {words!r} do not name the month {name.capitalize()}"
    if len(date) == 10:
        day = int(date[8:10])
        if not re.search(rf"(?<![0-9])0?{day}(?:st|nd|rd|th)?(?![0-9])", words):
            return f"the date words {words!r} do not give the day {day}"
    return None


@rule(
    "date-basis-mismatch",
    needs=READS_DATES,
    applies=lambda spec: any(f.basis_field for f in spec.fields),
    reads=(*SPAN_STATE, "specs"),
)
def date_bases(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A date is what its basis says: the publication date, an inherited date, or its span's words."""
    import numpy as np
    import pyarrow.compute as pc

    frame, name = _frame(typed), typed.spec.name
    published = _publication_dates(ctx, typed)
    for spec in _fields(typed.spec, "basis_field"):
        if spec.name not in frame.columns or spec.basis_field not in frame.columns:
            continue
        span_column = spec.date_span_field if spec.date_span_field in frame.columns else None
        spans = SpanColumns.of_column(ctx, typed, span_column) if span_column else None
        dates, bases = arrow(frame[spec.name]), arrow(frame[spec.basis_field])
        dated = dates.is_valid().to_numpy(zero_copy_only=False)
        # the rows whose basis can give a problem (below, row by row); the others cannot
        maybe = np.zeros(len(frame), dtype=bool)
        if published is not None:  # a date that is not the publication date
            differs = pc.not_equal(dates, published).fill_null(False).to_numpy(zero_copy_only=False)
            maybe |= _is(bases, AS_OF_PUBLICATION) & differs
        if spec.inherits_from is None:  # nothing to inherit from
            maybe |= _is(bases, FROM_EVENT)
        elif spec.inherits_from in frame.columns:  # nothing inherited
            maybe |= _is(bases, FROM_EVENT) & frame[spec.inherits_from].isna().to_numpy(bool)
        if spans is not None:  # a date its span's words may not give
            maybe |= (_is(bases, EXPLICIT) | _is(bases, YEAR_FROM_PUBLICATION)) & dated & (spans.codes >= 0)
        rows = np.flatnonzero(maybe)
        if not len(rows):
            continue
        span_words = _span_words(ctx, spans.take(rows)) if spans is not None else None
        inherited = cell_values(frame[spec.inherits_from].iloc[rows]) if spec.inherits_from in frame.columns else None
        lines = frame.index[rows].tolist()
        issued_at = published.take(rows).to_pylist() if published is not None else None
        for position, (line, date, basis) in enumerate(
            zip(lines, dates.take(rows).to_pylist(), bases.take(rows).to_pylist())
        ):
            issued = issued_at[position] if issued_at is not None else None
            problem = None
            if date is not None and not _real_date(date):
                continue  # not a date at all: the pattern or the dates rule reports it
            if basis == AS_OF_PUBLICATION:
                if date is not None and issued is not None and date != issued:
                    problem = f"{date} is not the publication date {issued}"
            elif basis == FROM_EVENT:
                if spec.inherits_from is None:
                    problem = "the schema names no reference to inherit the date from (inheritsFrom)"
                elif inherited is not None and inherited[position] is None:
                    problem = f"{spec.inherits_from} is empty, so there is no date to inherit"
            elif basis in (EXPLICIT, YEAR_FROM_PUBLICATION) and date is not None and span_words is not None:
                words = span_words[position]
                if words is not None:
                    problem = _date_words(date, words, basis, issued)
            if problem is not None:
                yield ctx.finding(
                    "date-basis-mismatch",
                    f"{spec.basis_field} is {basis}, but {problem}",
                    name,
                    line,
                    spec.name,
                    date,
                )


def _is(values, wanted: str):
    """Where the Arrow text ``values`` is ``wanted`` (never where missing), as numpy booleans."""
    import pyarrow.compute as pc

    return pc.equal(values, wanted).fill_null(False).to_numpy(zero_copy_only=False)


def _inherited_field(target: TableSpec, own: FieldSpec) -> FieldSpec | None:
    """The dated field of ``target`` a field inherits from: the same name, else its only dated field."""
    dated = [f for f in target.fields if f.basis_field]
    same = [f for f in dated if f.name == own.name]
    return same[0] if same else (dated[0] if len(dated) == 1 else None)


@gather(
    keeps={"inheriting": list, "dated": dict},
    applies=lambda spec: any(f.basis_field for f in spec.fields) and len(spec.primary_key) == 1,
    reads=("specs",),
)
def gather_dates(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Keeps what the comparison of inherited dates needs of a table: the rows that inherit a
    date, and the dates of rows other rows inherit from."""
    frame, name = _frame(typed), typed.spec.name
    for spec in _fields(typed.spec, "inherits_from"):
        reference = _reference(typed.spec, spec.inherits_from)
        columns = (spec.inherits_from, spec.name, spec.precision_field, spec.basis_field)
        if reference is None or any(c is None or c not in frame.columns for c in columns):
            continue
        rows = frame[(frame[spec.basis_field] == FROM_EVENT).fillna(False).to_numpy(bool)]
        rows = rows[list(columns)].dropna(subset=[spec.inherits_from])
        rows.columns = ["reference", "date", "precision", "basis"]
        ctx.gathered.setdefault("inheriting", []).append((name, spec.name, reference[0], rows))
    key = typed.spec.primary_key[0]
    for other in ctx.specs.values():
        for spec in _fields(other, "inherits_from"):
            reference = _reference(other, spec.inherits_from)
            dated = _inherited_field(typed.spec, spec) if reference and reference[0] == name else None
            if dated is None or dated.precision_field is None or key not in frame.columns:
                continue
            if dated.name in frame.columns and dated.precision_field in frame.columns:
                # as Arrow columns (a dict of a million rows is hundreds of MB of Python objects)
                kept = (frame[key], frame[dated.name], frame[dated.precision_field])
                ctx.gathered.setdefault("dated", {})[name] = tuple(_plain(arrow(c)) for c in kept)
    return iter(())


def _plain(array):
    """A dictionary-encoded Arrow array as the plain array of its values."""
    import pyarrow as pa

    return array.cast(array.type.value_type) if pa.types.is_dictionary(array.type) else array


def _last_positions(values, keys):
    """Per value, the position of the last equal key (null where none), as a dict built from the keys would answer."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.type != keys.type:
        numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in (values.type, keys.type))
        if not numeric:
            return pa.nulls(len(values), pa.int64())  # no key of another type equals a value
        values, keys = values.cast(pa.float64()), keys.cast(pa.float64())  # 5 == 5.0, as in Python
    backwards = pc.index_in(values, value_set=keys[::-1])
    return pc.subtract(pa.scalar(len(keys) - 1, pa.int64()), backwards.cast(pa.int64()))


@package_rule("date-basis-mismatch")
def inherited_dates(ctx: Context) -> Iterator[Finding]:
    """A date inherited from another row (basis from_event) has that row's date and precision."""
    dated = ctx.gathered.get("dated", {})
    for table, column, target, rows in ctx.gathered.get("inheriting", []):
        parents = dated.get(target)
        if parents is None:
            continue
        keys, parent_dates, parent_precisions = parents
        found = _last_positions(_plain(arrow(rows["reference"])), keys)
        for line, reference, date, precision, at in zip(
            rows.index.tolist(),
            cell_values(rows["reference"]),
            cell_values(rows["date"]),
            cell_values(rows["precision"]),
            found.to_pylist(),
        ):
            if at is None or (date is not None and not _real_date(date)):
                continue  # no such row, or no date: the foreign key or the pattern reports it
            want_date, want_precision = parent_dates[at].as_py(), parent_precisions[at].as_py()
            if (date, precision) != (want_date, want_precision):
                yield ctx.finding(
                    "date-basis-mismatch",
                    f"the date is inherited from {target} {reference!r}, which has {want_date or 'no date'} "
                    f"({want_precision})",
                    table,
                    line,
                    column,
                    date,
                    f"{want_date or 'empty'} ({want_precision})",
                )


# --- words -----------------------------------------------------------------------------


@rule(
    "words-not-in-span",
    needs=READS_SPANS,
    applies=lambda spec: any(f.as_written_in for f in spec.fields),
    reads=SPAN_STATE,
)
def words_in_spans(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A value stated ``asWrittenIn`` spans occurs verbatim (white space aside) in one of them."""
    import numpy as np

    frame, name = _frame(typed), typed.spec.name
    for spec in _fields(typed.spec, "as_written_in"):
        columns = [c for c in spec.as_written_in if c in frame.columns]
        spans = {c: SpanColumns.of_column(ctx, typed, c) for c in columns}
        if spec.name not in frame.columns or not columns or any(v is None for v in spans.values()):
            continue
        # per column and row: the span's words without runs of white space; None where they are
        # unknown (the value is not judged), _NO_SPAN where the row names no span there
        held_by_column = []
        for column in columns:
            held = _span_words(ctx, spans[column], _flat)  # type: ignore[arg-type]
            for position in np.flatnonzero(frame[column].isna().to_numpy(bool)).tolist():
                held[position] = _NO_SPAN
            held_by_column.append(held)
        for position, value in enumerate(cell_values(frame[spec.name])):
            if value is None:
                continue
            flat_value = _flat(value)
            supported = False
            for held in held_by_column:
                words = held[position]
                if words is None or (words is not _NO_SPAN and flat_value in words):
                    supported = True  # unknown words are not a finding; words holding the value are support
                    break
            if supported:
                continue
            yield ctx.finding(
                "words-not-in-span",
                f"{value!r} does not occur in the words of {' or '.join(columns)}",
                name,
                frame.index[position],
                spec.name,
                value,
            )


_NO_SPAN = "\x00no span"  # a marker compared by identity, never by value


# --- mentions --------------------------------------------------------------------------


def _mention_fields(spec: TableSpec, targets: set[str]) -> tuple[str, str, str, str | None] | None:
    """(key, entity field, span field, antecedent field) of a table declaring ``"mentions": true``."""
    if len(spec.primary_key) != 1:
        return None
    entity = next((k.fields[0] for k in spec.foreign_keys if len(k.fields) == 1 and k.resource in targets), None)
    span = next((k.fields[0] for k in spec.foreign_keys if len(k.fields) == 1 and k.resource == SPANS), None)
    antecedent = next((k.fields[0] for k in spec.foreign_keys if len(k.fields) == 1 and k.resource == spec.name), None)
    if entity is None or span is None:
        return None
    return spec.primary_key[0], entity, span, antecedent


def _mentioned_tables(ctx: Context) -> set[str]:
    """The tables entities are referenced in by fields that declare ``mentionedIn``."""
    targets = set()
    for spec in ctx.specs.values():
        for field_spec in _fields(spec, "mentioned_in"):
            reference = _reference(spec, field_spec.name)
            if reference is not None:
                targets.add(reference[0])
    return targets


@rule(
    "mention-antecedent-mismatch",
    needs=READS_SPANS,
    applies=lambda spec: spec.mentions,
    reads=(*SPAN_STATE, "specs"),
    writes=("gathered",),  # the mentions a name resolves, for entities_mentioned
    keeps={"mentions": list},
)
def mention_chains(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A mention's antecedent is an earlier mention of the same entity in the same source.

    Keeps the mentions that a name, title or demonym resolves (directly or through their
    antecedents) for ``entities_mentioned``.
    """
    import numpy as np

    frame, name = _frame(typed), typed.spec.name
    fields = _mention_fields(typed.spec, _mentioned_tables(ctx))
    if fields is None or any(f is not None and f not in frame.columns for f in fields):
        return
    key, entity_field, span_field, antecedent_field = fields
    spans = SpanColumns.of_column(ctx, typed, span_field)
    if spans is None:
        return
    cells = spans.cells()
    # A mention needs an antecedent when its antecedent field's requiredWhen holds (a pronoun, a description).
    needs_antecedent = np.zeros(len(frame), dtype=bool)
    if antecedent_field is not None:
        for other, condition in (typed.spec.field(antecedent_field).required_when or {}).items():
            if other in frame.columns:
                needs_antecedent |= _holds(frame[other], condition)
    keys, entities = cell_values(frame[key]), cell_values(frame[entity_field])
    antecedents = cell_values(frame[antecedent_field]) if antecedent_field else [None] * len(frame)
    lines = frame.index.tolist()
    rows = {k: position for position, k in enumerate(keys) if k is not None}

    def link_problem(position: int) -> str | None:
        earlier = rows.get(antecedents[position])
        if earlier is None:
            return None
        if entities[earlier] != entities[position]:
            return f"the antecedent {antecedents[position]!r} is a mention of {entities[earlier]!r}"
        here, there = cells[position], cells[earlier]
        if here is None or there is None:
            return None
        if there[0] != here[0] or there[1] >= here[1]:
            return f"the antecedent {antecedents[position]!r} does not come before it in the same source"
        return None

    for position, line in enumerate(lines):
        problem = link_problem(position) if antecedents[position] is not None else None
        if problem is not None:
            yield ctx.finding(
                "mention-antecedent-mismatch",
                problem,
                name,
                line,
                antecedent_field,
                antecedents[position],
                f"an earlier mention of {entities[position]!r}",
            )

    def resolved(position: int) -> bool:
        seen = set()
        while needs_antecedent[position]:
            earlier = rows.get(antecedents[position])
            if earlier is None or earlier in seen or link_problem(position) is not None:
                return False
            seen.add(position)
            position = earlier
        return True

    kept = [
        position
        for position in range(len(lines))
        if cells[position] is not None and entities[position] is not None and resolved(position)
    ]
    ctx.gathered.setdefault("mentions", []).append(
        (_taken(frame[entity_field], kept), spans.take(np.asarray(kept, dtype=np.int64)))
    )


@gather(
    keeps={"mentioned": list},
    needs={**READS_SPANS, **READS_ENTITIES},
    applies=lambda spec: any(f.mentioned_in for f in spec.fields),
    reads=(*SPAN_STATE, "specs"),
)
def gather_mentioned(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Keeps, per row, the entity a ``mentionedIn`` field names and the spans that must mention it
    (as columns: one entry a field, its rows those with an entity to look for and spans to look in)."""
    import numpy as np

    frame = _frame(typed)
    for spec in _fields(typed.spec, "mentioned_in"):
        columns = [c for c in spec.mentioned_in if c in frame.columns]
        if spec.name not in frame.columns or not columns:
            continue
        spans = {c: SpanColumns.of_column(ctx, typed, c) for c in columns}
        if any(v is None for v in spans.values()):
            continue
        reference = _reference(typed.spec, spec.name)
        found = ctx.positions(typed, spec.name, *reference) if reference is not None else None
        known = np.asarray(found.is_valid().to_pylist(), dtype=bool) if found is not None else np.ones(len(frame), bool)
        entities = frame[spec.name].notna().to_numpy(bool)
        present = {c: frame[c].notna().to_numpy(bool) for c in columns}
        broken = {c: spans[c].codes < 0 for c in columns}  # type: ignore[union-attr]
        # nothing to look for or in: an unknown entity or an unknown or broken span is another check's finding
        rows = entities & known & np.logical_or.reduce([present[c] for c in columns])
        for c in columns:
            rows &= ~(present[c] & broken[c])
        if not rows.any():
            continue
        chosen = np.flatnonzero(rows)
        ctx.gathered.setdefault("mentioned", []).append(
            {
                "table": typed.spec.name,
                "column": spec.name,
                "lines": _narrow(frame.index.to_numpy()[chosen]),
                "entities": _encoded(_taken(frame[spec.name], chosen)),
                "spans": {
                    c: (spans[c].take(chosen), present[c][chosen])  # type: ignore[union-attr]
                    for c in columns
                },
            }
        )
    return iter(())


def _taken(column, positions):
    """The cells of ``column`` at ``positions`` as an Arrow array of text: kept until the package
    rules, so not as a Python object a cell."""
    import pyarrow as pa

    taken = arrow(column).take(pa.array(positions, type=pa.int64()))
    if pa.types.is_dictionary(taken.type):
        taken = taken.cast(taken.type.value_type)
    return taken.cast(pa.large_string())  # an entity column of another type is compared as its text


@package_rule("entity-not-mentioned")
def entities_mentioned(ctx: Context) -> Iterator[Finding]:
    """The entity a ``mentionedIn`` field names is mentioned inside one of the row's listed spans."""
    import numpy as np

    if not any(spec.mentions for spec in ctx.specs.values()) or "mentions" not in ctx.gathered:
        return  # lint reports mentionedIn without a mentions table; an unreadable one has its findings
    mentions = MentionIndex(ctx.gathered["mentions"])
    for kept in ctx.gathered.get("mentioned", []):
        held = np.zeros(len(kept["lines"]), dtype=bool)
        for spans, present in kept["spans"].values():
            held |= present & mentions.inside(kept["entities"], spans)
        for position in np.flatnonzero(~held).tolist():
            entity = kept["entities"][position].as_py()
            span_fields = [c for c, (_, present) in kept["spans"].items() if present[position]]
            yield ctx.finding(
                "entity-not-mentioned",
                f"no mention of {entity!r} lies inside {' or '.join(span_fields)}",
                kept["table"],
                int(kept["lines"][position]),
                kept["column"],
                entity,
                f"a mention of {entity!r} inside the span",
            )


class SpanColumns:
    """Spans as columns, kept from a table until the package rules: per row a code into ``sources``
    (-1 for no span), a start and an end. A few bytes a row, where tuples of Python objects took
    some three hundred."""

    def __init__(self, sources: list[str], codes, starts, ends) -> None:
        self.sources, self.codes, self.starts, self.ends = sources, codes, starts, ends

    @classmethod
    def of(cls, cells: list[tuple[str, int, int] | None]) -> SpanColumns:
        """The spans given as (source_id, start, end) or None, row by row."""
        import numpy as np

        numbers: dict[str, int] = {}
        codes = np.fromiter(
            (-1 if cell is None else numbers.setdefault(cell[0], len(numbers)) for cell in cells), np.int64, len(cells)
        )
        starts = np.fromiter((0 if cell is None else cell[1] for cell in cells), np.int64, len(cells))
        ends = np.fromiter((0 if cell is None else cell[2] for cell in cells), np.int64, len(cells))
        return cls(list(numbers), codes, starts, ends)

    @classmethod
    def of_column(cls, ctx: Context, typed: TypedTable, column: str) -> SpanColumns | None:
        """The spans ``column`` names, row by row, looked up on whole columns (None if they cannot be).

        A row has no span (code -1) where the cell is empty, names no span, names one whose
        source, start or end is empty, or one whose offsets do not hold (``ctx.broken_spans``)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        found = [ctx.lookup_array(SPANS, "span_id", c, typed, column) for c in ("source_id", "start", "end")]
        if any(f is None for f in found):
            return None
        sources, starts, ends = (f.combine_chunks() if isinstance(f, pa.ChunkedArray) else f for f in found)
        valid = pc.and_(pc.and_(sources.is_valid(), starts.is_valid()), ends.is_valid())
        if ctx.broken_spans:
            ids = arrow(_frame(typed)[column])
            if pa.types.is_dictionary(ids.type):
                ids = ids.cast(ids.type.value_type)
            broken = pc.is_in(ids, value_set=pa.array(sorted(ctx.broken_spans), type=ids.type))
            valid = pc.and_(valid, pc.invert(broken.fill_null(False)))
        valid = valid.to_numpy(zero_copy_only=False)
        encoded = _encoded(sources)
        codes = np.where(valid, encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), -1).astype(np.int64)
        zero = pa.scalar(0, type=starts.type)
        starts = np.where(valid, starts.fill_null(zero).to_numpy(zero_copy_only=False), 0).astype(np.int64)
        ends = np.where(valid, ends.fill_null(pa.scalar(0, type=ends.type)).to_numpy(zero_copy_only=False), 0)
        return cls(encoded.dictionary.to_pylist(), codes, starts, ends.astype(np.int64))

    def take(self, positions) -> SpanColumns:
        """The spans of the rows at ``positions`` (the same numbering of sources), kept in the
        narrowest integers that hold them: they stay in memory until the package rules."""
        return SpanColumns(
            self.sources,
            _narrow(self.codes[positions]),
            _narrow(self.starts[positions]),
            _narrow(self.ends[positions]),
        )

    def cells(self) -> list[tuple[str, int, int] | None]:
        """Per row, (source_id, start, end) or None: for the rules that look at each row."""
        sources = self.sources
        return [
            None if code < 0 else (sources[code], start, end)
            for code, start, end in zip(self.codes.tolist(), self.starts.tolist(), self.ends.tolist())
        ]

    def recoded(self, numbers: dict[str, int]):
        """The source codes in another numbering (-1 where a source is not in it)."""
        import numpy as np

        table = np.array([numbers.get(source, -1) for source in self.sources] + [-1], dtype=np.int64)
        return table[self.codes]  # code -1 takes the last entry: -1


def _encoded(text):
    """Text as a dictionary array: few distinct entities, cited by many rows kept until the package rules."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.dictionary_encode(text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text)


def _narrow(numbers):
    """Integers as 32-bit ones when they fit (offsets into a text, codes of a few sources, line numbers)."""
    import numpy as np

    if len(numbers) and (numbers.min() < np.iinfo(np.int32).min or numbers.max() > np.iinfo(np.int32).max):
        return numbers
    return numbers.astype(np.int32)


def _wide(numbers):
    import numpy as np

    return numbers.astype(np.int64, copy=False)  # arithmetic on offsets and codes is done in 64 bits


class MentionIndex:
    """Every mention's (start, end) per (entity, source), sorted by group, start and end, as arrays:
    each lookup of many spans is a few array passes, where a bisection a row cost a Python loop a row."""

    STEPS = 8  # candidates tried on whole arrays; a span with more is settled by bisection

    def __init__(self, parts) -> None:
        """``parts``: (entities as an Arrow array, their SpanColumns) per mentions table."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        entities = pa.chunked_array([e for e, _ in parts], type=pa.large_string())
        self.entities = pc.unique(entities)  # one array: the value set of every lookup
        self.sources: dict[str, int] = {}
        for _, spans in parts:
            for source in spans.sources:
                self.sources.setdefault(source, len(self.sources))
        entity = self._entity_codes(entities)
        source = np.concatenate([spans.recoded(self.sources) for _, spans in parts] or [np.zeros(0, np.int64)])
        starts = np.concatenate([_wide(spans.starts) for _, spans in parts] or [np.zeros(0, np.int64)])
        ends = np.concatenate([_wide(spans.ends) for _, spans in parts] or [np.zeros(0, np.int64)])
        pair = entity * (len(self.sources) + 1) + source
        order = np.lexsort((ends, starts, pair))
        pair, self.starts, self.ends = pair[order], starts[order], ends[order]
        self.pairs, self.first = np.unique(pair, return_index=True)  # the groups, and where each begins
        self.last = np.append(self.first[1:], len(pair))
        group = np.searchsorted(self.pairs, pair)
        # one sorted key a mention: its group, then its start (offsets from the lowest start; one
        # more value than the highest, for a span starting after every mention), or None when the
        # keys would not fit in 62 bits and every span is settled by bisection
        self.lowest = int(self.starts.min()) if len(pair) else 0
        self.width = (int(self.starts.max()) - self.lowest + 2) if len(pair) else 1
        fits = len(self.pairs) * self.width < 1 << 62
        self.keys = group * self.width + (self.starts - self.lowest) if fits else None

    def _entity_codes(self, entities):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(entities.type):  # each distinct entity looked up once
            distinct = np.append(self._entity_codes(entities.dictionary), -1)  # the last: a row without one
            indices = entities.indices.fill_null(len(distinct) - 1).to_numpy(zero_copy_only=False)
            return distinct[_wide(indices)]
        found = pc.index_in(entities, value_set=self.entities).fill_null(-1)
        return found.to_numpy(zero_copy_only=False).astype(np.int64)  # int32 would overflow in the pair codes

    def _key(self, group, offsets):
        import numpy as np

        return group * self.width + np.clip(offsets - self.lowest, 0, self.width - 1)

    def inside(self, entities, spans: SpanColumns):
        """Per span, whether a mention of the row's entity lies inside it (False for no span)."""
        import numpy as np

        count = len(spans.codes)
        entity = self._entity_codes(entities)
        source = spans.recoded(self.sources)
        known = (entity >= 0) & (source >= 0)
        pair = np.where(known, entity * (len(self.sources) + 1) + source, -1)
        group = np.searchsorted(self.pairs, pair)
        found = known & (group < len(self.pairs))
        found[found] = self.pairs[group[found]] == pair[found]
        group = np.where(found, group, -1)
        starts, ends = _wide(spans.starts), _wide(spans.ends)
        held = np.zeros(count, dtype=bool)
        asked = group >= 0
        if self.keys is None:
            for position in np.flatnonzero(asked).tolist():
                held[position] = self.holds(int(group[position]), int(starts[position]), int(ends[position]))
            return held
        low = np.searchsorted(self.keys, self._key(group, starts), side="left")
        high = np.searchsorted(self.keys, self._key(group, ends), side="left")  # candidates start in start..end-1
        for step in range(self.STEPS):
            at = low + step
            open_ = asked & ~held & (at < high)
            if not open_.any():
                return held
            held[open_] = self.ends[at[open_]] <= ends[open_]
        for position in np.flatnonzero(asked & ~held & (low + self.STEPS < high)).tolist():
            held[position] = self.holds(int(group[position]), int(starts[position]), int(ends[position]))
        return held

    def holds(self, group: int, start: int, end: int) -> bool:
        """Whether one of the group's mentions lies inside start..end, by bisection."""
        import numpy as np

        first, last = int(self.first[group]), int(self.last[group])
        at = first + int(np.searchsorted(self.starts[first:last], start, side="left"))
        while at < last and self.starts[at] < end:
            if self.ends[at] <= end:
                return True
            at += 1
        return False


# --- codes -----------------------------------------------------------------------------


@rule(
    "code-not-admitted",
    needs={**READS_ENTITIES, "vocabularies": ("vocabulary", "code", "admits")},
    applies=lambda spec: any(f.admits_type_of for f in spec.fields),
)
def admitted_types(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A code whose vocabulary entry lists ``admits`` is used only with entities of those types."""
    vocabularies = ctx.rows("vocabularies", ("vocabulary", "code", "admits"))
    if vocabularies is None:
        return
    admits: dict[tuple[str, str], list[str]] = {}
    for _, vocabulary, code, allowed in each_row(
        vocabularies.index, vocabularies["vocabulary"], vocabularies["code"], vocabularies["admits"]
    ):
        if allowed:
            admits[(vocabulary, code)] = allowed.split()
    frame = _frame(typed)
    for spec in _fields(typed.spec, "admits_type_of"):
        entity_field = spec.admits_type_of
        reference = _reference(typed.spec, entity_field)
        if reference is None or entity_field is None or spec.vocabulary is None or spec.name not in frame.columns:
            continue
        types = ctx.lookup(reference[0], reference[1], ENTITY_TYPE, typed, entity_field)
        if types is None:
            continue
        for line, code, entity, entity_type in each_row(frame.index, frame[spec.name], frame[entity_field], types):
            allowed = admits.get((spec.vocabulary, code))
            if allowed is None or entity_type is None or entity_type in allowed:
                continue
            yield ctx.finding(
                "code-not-admitted",
                f"{spec.vocabulary} {code!r} admits {' or '.join(allowed)}; {entity!r} is a {entity_type}",
                typed.spec.name,
                line,
                spec.name,
                code,
                f"a code that admits a {entity_type}",
            )


# --- references to a table named in the row ---------------------------------------------


def _named_tables(ctx: Context) -> dict[str, set[str] | None]:
    """Per field with ``referenceTableField``: the tables it may name (None: any)."""
    named: dict[str, set[str] | None] = {}
    for spec in ctx.specs.values():
        for field_spec in _fields(spec, "reference_table_field"):
            naming = next((f for f in spec.fields if f.name == field_spec.reference_table_field), None)
            named[f"{spec.name}.{field_spec.name}"] = set(naming.enum) if naming and naming.enum else None
    return named


@gather(keeps={"keys": dict, "named": list}, applies=lambda spec: len(spec.primary_key) >= 1, reads=("specs",))
def gather_keys(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Keeps the keys of a table that a ``referenceTableField`` may name."""
    from ..context import joined_cells

    name = typed.spec.name
    wanted = any(tables is None or name in tables for tables in _named_tables(ctx).values())
    if wanted and all(c in _frame(typed).columns for c in typed.spec.primary_key):
        keys = joined_cells(_frame(typed), typed.spec.primary_key, "|", missing="")
        ctx.gathered.setdefault("keys", {})[name] = keys.reset_index(drop=True)
    if any(f.reference_table_field for f in typed.spec.fields):
        for spec in _fields(typed.spec, "reference_table_field"):
            naming = spec.reference_table_field
            if spec.name in _frame(typed).columns and naming in _frame(typed).columns:
                rows = _frame(typed)[[naming, spec.name]].dropna()
                rows[naming] = rows[naming].astype("category")  # a few table names, many rows
                ctx.gathered.setdefault("named", []).append((name, spec.name, naming, rows))
    return iter(())


@package_rule("foreign-key")
def named_references(ctx: Context) -> Iterator[Finding]:
    """An ID with ``referenceTableField`` is a key of the table that field names."""
    keys = ctx.gathered.get("keys", {})
    for table, column, naming, rows in ctx.gathered.get("named", []):
        for target, group in rows.groupby(naming, sort=True, observed=True):
            if target not in keys:
                continue  # not a table (its enum reports it), or unreadable (its own findings)
            ids = group[column].astype("string")
            missing = ~isin(ids, keys[target])
            for line, value in ids[missing].items():
                yield ctx.finding(
                    "foreign-key",
                    f"{value} not found in {target} (named by {naming})",
                    table,
                    line,
                    column,
                    value,
                    f"an existing {target} key",
                )


# --- coverage --------------------------------------------------------------------------


def coverage_enabled(descriptor: dict) -> bool:
    """Whether the descriptor asks validate to report uncovered body text."""
    settings = descriptor.get("uslatam")
    return isinstance(settings, dict) and settings.get("coverage") is True


@gather(
    keeps={"cited": dict, "bodies": list, "in_progress": set},
    applies=lambda spec: spec.name != SPANS and any(k.resource == SPANS for k in spec.foreign_keys),
)
def gather_cited(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Keeps the spans a table cites, by what they mean to coverage, and each source's body (whether
    the descriptor asks for coverage is the package rule's to read: what is gathered is kept between
    runs, and a key of the descriptor would change with every table's recorded hash)."""
    frame = _frame(typed)
    cited = ctx.gathered.setdefault("cited", {})
    for key in typed.spec.foreign_keys:
        if key.resource == SPANS and len(key.fields) == 1 and key.fields[0] in frame.columns:
            ids = frame[key.fields[0]].dropna().astype("string").unique()
            cited.setdefault(typed.spec.coverage, []).append(ids)
    if typed.spec.name == "sources" and {"source_id", "body_start", "body_end"} <= set(frame.columns):
        ctx.gathered["bodies"] = list(each_row(frame.index, frame["source_id"], frame["body_start"], frame["body_end"]))
        if "recording" in frame.columns:
            ctx.gathered["in_progress"] = set(frame.loc[frame["recording"] == "in_progress", "source_id"].dropna())
    return iter(())


@package_rule("uncovered-text", "recording-in-progress", needs={SPANS: SPAN_PLACE})
def uncovered_text(ctx: Context) -> Iterator[Finding]:
    """With ``"uslatam": {"coverage": true}``, every unit of each source's body is cited or excluded."""
    import pandas as pd

    spans = ctx.rows(SPANS, SPAN_PLACE)
    if not coverage_enabled(ctx.package.descriptor) or spans is None or "bodies" not in ctx.gathered:
        return
    if ctx.broken_spans:
        spans = spans[~isin(spans["span_id"], pd.Series(sorted(ctx.broken_spans), dtype="string"))]
    cited_rows: dict[str, list] = {}  # role -> the rows of spans cited in it, by the tables of each role
    for role, parts in ctx.gathered.get("cited", {}).items():
        ids = pd.concat([pd.Series(p, dtype="string") for p in parts]).unique()
        rows = spans[isin(spans["span_id"], ids)].dropna()
        cited_rows.setdefault(role if role in (CITES, NAMES, EXCLUDES) else CITES, []).append(rows)
    by_role = _spans_by_source(cited_rows)
    relpath = ctx.tables["sources"].relpath if "sources" in ctx.tables else None
    for line, source_id, start, end in ctx.gathered["bodies"]:
        text = ctx.texts.get(source_id)
        if text is None or start is None or end is None or not 0 <= start <= end <= len(text):
            continue
        cited = dict(sorted(by_role.get(source_id, {}).items()))
        in_progress = source_id in ctx.gathered.get("in_progress", ())
        yield from ctx.kept(_uncovered_findings, relpath, line, source_id, text, start, end, cited, in_progress)


def _spans_by_source(cited_rows: dict[str, list]) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """Per source and role, the (start, end) of the spans cited, in order: whole columns sorted
    once and cut where the source changes (a Python tuple is made a span, none is appended)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    by_role: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for role, parts in cited_rows.items():
        rows = pd.concat(parts)
        if rows.empty:
            continue
        encoded = pc.dictionary_encode(arrow_text(rows["source_id"]))
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        starts = rows["start"].to_numpy(np.int64)
        ends = rows["end"].to_numpy(np.int64)
        order = np.lexsort((ends, starts, codes))
        codes, starts, ends = codes[order], starts[order], ends[order]
        cuts = np.flatnonzero(np.diff(codes)) + 1
        names = encoded.dictionary.to_pylist()
        for first, last in zip([0, *cuts.tolist()], [*cuts.tolist(), len(codes)]):
            pairs = list(zip(starts[first:last].tolist(), ends[first:last].tolist()))
            by_role.setdefault(names[codes[first]], {})[role] = pairs
    return by_role


def _uncovered_findings(
    relpath: str | None,
    line: int,
    source_id: str,
    text: str,
    start: int,
    end: int,
    cited: dict[str, list[tuple[int, int]]],
    in_progress: bool,
) -> list[Finding]:
    """What coverage finds in one source's body: a function of its arguments alone, so kept between runs."""
    _, missing = uncovered(source_id, text, start, end, cited)

    def finding(code: str, message: str, column: str, value: str, expected: str) -> Finding:
        return Finding(code, message, "sources", relpath, int(line), column, value, expected, (ENGINE,))

    if in_progress:
        if not missing:
            return []
        return [
            finding(
                "recording-in-progress",
                f"source {source_id} is still being recorded: {len(missing)} passage(s) of its body "
                "are cited by no row and covered by no exclusion",
                "recording",
                "in_progress",
                "complete, once every passage is recorded",
            )
        ]
    return [
        finding(
            "uncovered-text",
            f"the {unit.kind} at {unit.start}..{unit.end} is cited by no row and covered by no exclusion",
            "body",
            unit.words,
            "a row citing it, or an exclusion",
        )
        for unit in missing
    ]
