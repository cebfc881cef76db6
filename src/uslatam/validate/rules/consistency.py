"""Rules of consistency across tables: entity types, speakers' offices, dates, country codes, vocabularies."""

from __future__ import annotations

from collections.abc import Iterator

from ...report import Finding
from ...schema import TypedTable
from ..context import ENGINE, Context, arrow, arrow_text, is_missing, iso_text, records
from . import package_rule, rule


@rule(
    "entity-type-mismatch",
    needs={"entities": ("entity_id", "entity_type")},
    applies=lambda spec: any(f.entity_types for f in spec.fields),
)
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


@rule("speaker-occupancy-mismatch", tables=("quotes",), needs={"occupancies": ("occupancy_id", "person_entity_id")})
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
            None if is_missing(speaker_id) else speaker_id,
        )


_PRECISION_LENGTH = {"day": 10, "month": 7, "year": 4, "unknown": 0}
_DATE_FORM = r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?"
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _real_dates(dates, well_formed):
    """Which well-formed date prefixes (YYYY, YYYY-MM, YYYY-MM-DD) name a real calendar year, month or day."""
    import numpy as np
    import pyarrow.compute as pc

    text = arrow(dates.where(well_formed, "0001-01-01").fillna("0001-01-01"))
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
    """Rows of ``mask`` where ``compare(date, bound cut to the date's own length)`` (ISO text order).

    ``dates`` and ``bounds`` are Arrow text arrays, ``mask`` a numpy array; so is the answer."""
    import numpy as np
    import pyarrow.compute as pc

    result = np.zeros(len(dates), dtype=bool)
    lengths = pc.utf8_length(dates).fill_null(0).to_numpy(zero_copy_only=False)
    for length in (4, 7, 10):
        rows = np.flatnonzero(mask & (lengths == length))
        if len(rows):
            cut = pc.utf8_slice_codeunits(bounds.take(rows), 0, length)
            result[rows] = compare(dates.take(rows), cut).fill_null(False).to_numpy(zero_copy_only=False)
    return result


_PRECISIONS = tuple(_PRECISION_LENGTH)


@rule(
    "invalid-date",
    "date-precision-mismatch",
    "date-end-before-start",
    "date-after-publication",
    needs={"sources": ("source_id", "published")},
    applies=lambda spec: any(f.precision_field for f in spec.fields),
)
def dates(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """Date prefixes are real dates, as precise as stated, ordered, and not after publication.

    Whole columns in pyarrow and numpy (each pandas call on a small table cost more than its work)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    name, frame = typed.spec.name, typed.frame
    lines = frame.index
    for spec in typed.spec.fields:
        if not spec.precision_field or spec.precision_field not in frame.columns or spec.name not in frame.columns:
            continue
        date, precision = frame[spec.name], frame[spec.precision_field]
        text = arrow_text(date)
        present = text.is_valid().to_numpy(zero_copy_only=False)
        # else the pattern reports it
        well_formed = pc.match_substring_regex(text, f"^(?:{_DATE_FORM})$").fill_null(False)
        well_formed = well_formed.to_numpy(zero_copy_only=False)
        real = _real_dates(date, well_formed)
        invalid = present & well_formed & ~real
        for line in lines[invalid]:
            value = date.at[line]
            yield ctx.finding("invalid-date", f"{value!r} is not a calendar date", name, line, spec.name, value)
        usable = ~present | (well_formed & real)
        length = pc.utf8_length(text).fill_null(0).to_numpy(zero_copy_only=False)
        stated = pc.index_in(arrow_text(precision), value_set=pa.array(_PRECISIONS, pa.large_string()))
        known = stated.is_valid().to_numpy(zero_copy_only=False)
        expected = np.array([_PRECISION_LENGTH[p] for p in _PRECISIONS])[stated.fill_null(0).to_numpy()]
        optional_end = ~present if spec.not_before is not None else np.zeros(len(frame), dtype=bool)
        wrong = usable & known & (length != expected) & ~optional_end
        for line in lines[wrong]:
            value = date.at[line]
            shown = "an empty date" if is_missing(value) else value
            wanted = _PRECISION_LENGTH[precision.at[line]]
            yield ctx.finding(
                "date-precision-mismatch",
                f"{shown!r} is not a date of precision {precision.at[line]}",
                name,
                line,
                spec.name,
                None if is_missing(value) else value,
                f"{wanted} characters",
            )
        checked = present & well_formed & real
        if spec.not_before and spec.not_before in frame.columns:
            start = frame[spec.not_before]
            starts = arrow_text(start)
            early = _compare_prefix(text, starts, checked & starts.is_valid().to_numpy(zero_copy_only=False), pc.less)
            for line in lines[early]:
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
            published = ctx.lookup_array("sources", "source_id", "published", typed, "source_id")
            if published is None:
                continue
            bounds = iso_text(published)
            late = _compare_prefix(text, bounds, checked & bounds.is_valid().to_numpy(zero_copy_only=False), pc.greater)
            rows = np.flatnonzero(late)
            for line, issued in zip(lines[rows], bounds.take(rows).to_pylist()):
                yield ctx.finding(
                    "date-after-publication",
                    f"{date.at[line]} is after the source's publication on {issued}",
                    name,
                    line,
                    spec.name,
                    date.at[line],
                    f"<= {issued}",
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


@package_rule("vocabulary-mismatch", needs={"vocabularies": ("vocabulary", "code")})
def vocabularies(ctx: Context) -> Iterator[Finding]:
    """Every field naming a ``vocabulary`` has an enum equal to that vocabulary's codes, in order."""
    table = ctx.rows("vocabularies", ("vocabulary", "code"))
    if table is None:
        return
    codes: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    for line, row in records(table):
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
                    file=getattr(ctx.package.resource(name), "schema_path", None),
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
