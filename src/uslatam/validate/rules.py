"""Layer: the named rules a Table Schema cannot express.

Each rule is a function registered with the codes it may report. Rules read the
typed tables (indexed by physical line) and the schemas' project properties
(``precisionField``, ``notBefore``, ``codelist``, ``entityTypes``, ``multiline``,
``vocabulary``); none restates a column's type or constraint.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..package import Package, check_path
from ..report import Finding
from ..schema import TableSpec, TypedTable
from ..spans import CONTEXT_WIDTH, context

ENGINE = "rules"
QUOTE_OPENERS = '"“'
QUOTE_CLOSERS = '"”'


@dataclass
class Context:
    package: Package
    tables: dict[str, TypedTable]
    specs: dict[str, TableSpec] = field(default_factory=dict)  # every usable schema, readable table or not
    texts: dict[str, str] = field(default_factory=dict)  # source_id -> stored text, when intact
    broken_spans: set[str] = field(default_factory=set)  # spans whose offsets do not hold: skip, do not re-report
    baseline: object = None  # the last release (uslatam.diff.Snapshot), to check nothing vanished silently

    def rows(self, table: str):
        typed = self.tables.get(table)
        return typed.frame if typed is not None else None

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


Rule = Callable[[Context], Iterator[Finding]]
RULES: list[tuple[str, tuple[str, ...], Rule]] = []


def rule(*codes: str):
    """Register a rule under its function name, with the codes it reports."""

    def register(function: Rule) -> Rule:
        RULES.append((function.__name__, codes, function))
        return function

    return register


def _records(frame):
    """(line, row dict) for every row; NA becomes None."""
    columns = list(frame.columns)
    for line, values in zip(frame.index, frame.itertuples(index=False, name=None)):
        yield int(line), {c: (None if _is_missing(v) else v) for c, v in zip(columns, values)}


def _mapping(frame, key: str, value: str) -> dict:
    """{key: value} over the rows where both are present (a missing cell is never a match)."""
    pairs = frame[[key, value]].dropna()
    return dict(zip(pairs[key], pairs[value]))


def _is_missing(value) -> bool:
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --- evidence ------------------------------------------------------------------------


@rule("source-text-missing", "source-hash-mismatch", "source-size-mismatch", "unsafe-path", "remote-path")
def source_texts(ctx: Context) -> Iterator[Finding]:
    """Each source's stored text exists inside the package and matches its SHA-256 and sizes."""
    sources = ctx.rows("sources")
    if sources is None:
        return
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


@rule("span-out-of-range", "span-mismatch", "span-context-mismatch")
def span_words(ctx: Context) -> Iterator[Finding]:
    """Each span's exact words are the stored text at its offsets; prefix and suffix agree."""
    spans = ctx.rows("spans")
    if spans is None:
        return
    for line, row in _records(spans):
        text = ctx.texts.get(row.get("source_id"))
        start, end = row.get("start"), row.get("end")
        if text is None or start is None or end is None:
            continue
        start, end = int(start), int(end)
        if not 0 <= start < end <= len(text):
            ctx.broken_spans.add(row.get("span_id"))
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
        exact = row.get("exact") or ""
        if text[start:end] != exact:
            ctx.broken_spans.add(row.get("span_id"))
            yield ctx.finding(
                "span-mismatch",
                f"the text at {start}..{end} reads {text[start:end]!r}",
                "spans",
                line,
                "exact",
                exact,
                text[start:end],
            )
            continue
        prefix, suffix = context(text, start, end, CONTEXT_WIDTH)
        if (row.get("prefix") or "") != prefix:
            yield ctx.finding(
                "span-context-mismatch",
                f"the {CONTEXT_WIDTH} code points before the span are {prefix!r}",
                "spans",
                line,
                "prefix",
                row.get("prefix"),
                prefix,
            )
        if (row.get("suffix") or "") != suffix:
            yield ctx.finding(
                "span-context-mismatch",
                f"the {CONTEXT_WIDTH} code points after the span are {suffix!r}",
                "spans",
                line,
                "suffix",
                row.get("suffix"),
                suffix,
            )


def _span_fields(typed: TypedTable) -> list[str]:
    return [key.fields[0] for key in typed.spec.foreign_keys if key.resource == "spans" and len(key.fields) == 1]


@rule("span-source-mismatch")
def span_sources(ctx: Context) -> Iterator[Finding]:
    """A fact row's source is the source of every span it cites."""
    spans = ctx.rows("spans")
    if spans is None:
        return
    span_source = _mapping(spans, "span_id", "source_id")
    for name, typed in ctx.tables.items():
        if name == "spans" or "source_id" not in typed.frame.columns:
            continue
        for column in _span_fields(typed):
            for line, row in _records(typed.frame[["source_id", column]]):
                cited = span_source.get(row[column])
                if (
                    row[column] is not None
                    and cited is not None
                    and row["source_id"] is not None
                    and cited != row["source_id"]
                ):
                    yield ctx.finding(
                        "span-source-mismatch",
                        f"span {row[column]!r} belongs to source {cited!r}",
                        name,
                        line,
                        column,
                        row[column],
                        row["source_id"],
                    )


@rule("quote-outside-quotation-marks")
def quotes_in_quotation_marks(ctx: Context) -> Iterator[Finding]:
    """A quote's span is exactly the words between quotation marks (pull quotes excepted)."""
    quotes, spans = ctx.rows("quotes"), ctx.rows("spans")
    if quotes is None or spans is None:
        return
    by_id = {row["span_id"]: row for _, row in _records(spans)}
    for line, row in _records(quotes):
        span = by_id.get(row.get("span_id"))
        if row.get("quote_type") == "pull_quote" or span is None or row.get("span_id") in ctx.broken_spans:
            continue
        text = ctx.texts.get(span["source_id"])
        if text is None or span["start"] is None or span["end"] is None:
            continue
        start, end = int(span["start"]), int(span["end"])
        before = text[start - 1] if start > 0 else ""
        after = text[end] if end < len(text) else ""
        if not (before and before in QUOTE_OPENERS and after and after in QUOTE_CLOSERS):
            yield ctx.finding(
                "quote-outside-quotation-marks",
                f"span {row['span_id']!r} is preceded by {before!r} and followed by {after!r}",
                "quotes",
                line,
                "span_id",
                row["span_id"],
                "a quotation mark on each side",
            )


_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_NUMBER_TEXT = re.compile(
    r"(?P<digits>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<decimals>[0-9]+))?"
    r"(?:\s*(?P<scale>thousand|million|billion|trillion)|\s*(?P<percent>%|percent))?"
)
# Number words the text uses, with the bound they stand for (see vocabularies: qualifier).
NUMBER_WORDS = {
    "multi-billion": Decimal(2 * 10**9),  # at least two billion
    "most": Decimal(50),  # more than 50 percent
}


def value_bounds(value_text: str) -> tuple[Decimal, Decimal] | None:
    """The interval of values the words allow: '2.8 million' is 2.75 to 2.85 million.

    Trailing zeros of a whole number count as rounding ('222,000': 221,500 to 222,500).
    """
    words = value_text.strip()
    if words in NUMBER_WORDS:
        return NUMBER_WORDS[words], NUMBER_WORDS[words]
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
    "value-text-not-in-span",
    "value-text-unparsed",
    "value-outside-rounding",
    "part-exceeds-whole",
    "part-unit-mismatch",
    "parent-relation-mismatch",
)
def statistic_values(ctx: Context) -> Iterator[Finding]:
    """value_text occurs in the span and gives value; a part fits inside its whole."""
    stats, spans = ctx.rows("statistics"), ctx.rows("spans")
    if stats is None:
        return
    exact_by_span = _mapping(spans, "span_id", "exact") if spans is not None else {}
    by_id = {row["statistic_id"]: row for _, row in _records(stats)}
    for line, row in _records(stats):
        value_text, value = row.get("value_text"), row.get("value")
        exact = exact_by_span.get(row.get("span_id"))
        if value_text is not None and exact is not None and value_text not in exact:
            yield ctx.finding(
                "value-text-not-in-span",
                f"{value_text!r} does not occur in span {row['span_id']!r}",
                "statistics",
                line,
                "value_text",
                value_text,
            )
        if value_text is not None and value is not None:
            bounds = value_bounds(value_text)
            if bounds is None:
                yield ctx.finding(
                    "value-text-unparsed",
                    f"{value_text!r} is not a number form the validator reads",
                    "statistics",
                    line,
                    "value_text",
                    value_text,
                )
            elif not math.isfinite(value) or not bounds[0] <= Decimal(repr(float(value))) <= bounds[1]:
                yield ctx.finding(
                    "value-outside-rounding",
                    f"{value_text!r} means {bounds[0]} to {bounds[1]}",
                    "statistics",
                    line,
                    "value",
                    value,
                    f"{bounds[0]}..{bounds[1]}",
                )
        parent_id, relation = row.get("parent_statistic_id"), row.get("relation_to_parent")
        if (parent_id is None) != (relation is None):
            yield ctx.finding(
                "parent-relation-mismatch",
                "parent_statistic_id and relation_to_parent go together",
                "statistics",
                line,
                "relation_to_parent" if parent_id else "parent_statistic_id",
                relation or parent_id,
            )
        parent = by_id.get(parent_id)
        if parent is None:
            continue
        if parent.get("unit") != row.get("unit"):
            yield ctx.finding(
                "part-unit-mismatch",
                f"the parent {parent_id!r} is in {parent.get('unit')!r}",
                "statistics",
                line,
                "unit",
                row.get("unit"),
                parent.get("unit"),
            )
        elif value is not None and parent.get("value") is not None and value > parent["value"]:
            yield ctx.finding(
                "part-exceeds-whole",
                f"{value} is larger than its parent's {parent['value']}",
                "statistics",
                line,
                "value",
                value,
                f"<= {parent['value']}",
            )


# --- cross-table consistency -----------------------------------------------------------


@rule("entity-type-mismatch")
def entity_types(ctx: Context) -> Iterator[Finding]:
    """A reference whose field lists ``entityTypes`` names an entity of one of those types."""
    entities = ctx.rows("entities")
    if entities is None:
        return
    type_of = _mapping(entities, "entity_id", "entity_type")
    for name, typed in ctx.tables.items():
        for spec in typed.spec.fields:
            if not spec.entity_types:
                continue
            for line, row in _records(typed.frame[[spec.name]]):
                entity = row[spec.name]
                actual = type_of.get(entity)
                if entity is not None and actual is not None and actual not in spec.entity_types:
                    yield ctx.finding(
                        "entity-type-mismatch",
                        f"{entity!r} is a {actual}",
                        name,
                        line,
                        spec.name,
                        entity,
                        " or ".join(spec.entity_types),
                    )


@rule("speaker-occupancy-mismatch")
def speaker_offices(ctx: Context) -> Iterator[Finding]:
    """A quote's speaker_occupancy_id is an office of the quote's own speaker."""
    quotes, occupancies = ctx.rows("quotes"), ctx.rows("occupancies")
    if quotes is None or occupancies is None:
        return
    holder = _mapping(occupancies, "occupancy_id", "person_entity_id")
    for line, row in _records(quotes):
        occupancy = row.get("speaker_occupancy_id")
        person = holder.get(occupancy)
        if occupancy is not None and person is not None and person != row.get("speaker_entity_id"):
            yield ctx.finding(
                "speaker-occupancy-mismatch",
                f"occupancy {occupancy!r} is held by {person!r}",
                "quotes",
                line,
                "speaker_occupancy_id",
                occupancy,
                row.get("speaker_entity_id"),
            )


_PRECISION_LENGTH = {"day": 10, "month": 7, "year": 4, "unknown": 0}


def _real_date(text: str) -> bool:
    import datetime

    parts = [int(p) for p in text.split("-")]
    try:
        datetime.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        return False
    return parts[0] >= 1


@rule("invalid-date", "date-precision-mismatch", "date-end-before-start", "date-after-publication")
def dates(ctx: Context) -> Iterator[Finding]:
    """Date prefixes are real dates, as precise as stated, ordered, and not after publication."""
    sources = ctx.rows("sources")
    published = {}
    if sources is not None and "published" in sources.columns:
        for _, row in _records(sources[["source_id", "published"]]):
            if row["published"] is not None:
                published[row["source_id"]] = row["published"].strftime("%Y-%m-%d")
    date_form = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
    for name, typed in ctx.tables.items():
        frame = typed.frame
        for spec in typed.spec.fields:
            if not spec.precision_field or spec.precision_field not in frame.columns:
                continue
            for line, row in _records(frame):
                date, precision = row.get(spec.name), row.get(spec.precision_field)
                if date is not None and not date_form.fullmatch(date):
                    continue  # the pattern constraint reports it
                if date is not None and not _real_date(date):
                    yield ctx.finding("invalid-date", f"{date!r} is not a calendar date", name, line, spec.name, date)
                    continue
                length = len(date) if date else 0
                optional_end = spec.not_before is not None and date is None
                if precision in _PRECISION_LENGTH and length != _PRECISION_LENGTH[precision] and not optional_end:
                    yield ctx.finding(
                        "date-precision-mismatch",
                        f"{date or 'an empty date'!r} is not a date of precision {precision}",
                        name,
                        line,
                        spec.name,
                        date,
                        f"{_PRECISION_LENGTH[precision]} characters",
                    )
                start = row.get(spec.not_before) if spec.not_before else None
                if date is not None and start is not None and date < start[: len(date)]:
                    yield ctx.finding(
                        "date-end-before-start",
                        f"{date} is before {spec.not_before} {start}",
                        name,
                        line,
                        spec.name,
                        date,
                        f">= {start}",
                    )
                issued = published.get(row.get("source_id"))
                if date is not None and issued is not None and date > issued[: len(date)]:
                    yield ctx.finding(
                        "date-after-publication",
                        f"{date} is after the source's publication on {issued}",
                        name,
                        line,
                        spec.name,
                        date,
                        f"<= {issued}",
                    )


@rule("unknown-country-code")
def country_codes(ctx: Context) -> Iterator[Finding]:
    """Fields with ``codelist: ISO 3166-1 alpha-3`` hold real ISO 3166-1 alpha-3 codes."""
    import pycountry

    known = {country.alpha_3 for country in pycountry.countries}
    for name, typed in ctx.tables.items():
        for spec in typed.spec.fields:
            if spec.codelist != "ISO 3166-1 alpha-3":
                continue
            for line, row in _records(typed.frame[[spec.name]]):
                code = row[spec.name]
                if code is not None and code not in known:
                    yield ctx.finding(
                        "unknown-country-code",
                        f"{code!r} is not an ISO 3166-1 alpha-3 code",
                        name,
                        line,
                        spec.name,
                        code,
                    )


@rule("vocabulary-mismatch")
def vocabularies(ctx: Context) -> Iterator[Finding]:
    """Every field naming a ``vocabulary`` has an enum equal to that vocabulary's codes, in order."""
    table = ctx.rows("vocabularies")
    if table is None:
        return
    codes: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    for line, row in _records(table):
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
    for vocabulary in sorted(set(codes) - used):
        yield ctx.finding(
            "vocabulary-mismatch",
            f"vocabulary {vocabulary!r} is used by no field",
            "vocabularies",
            first_line[vocabulary],
            "vocabulary",
            vocabulary,
        )


@rule("retraction-error", "retracted-id-reused", "removed-without-retraction")
def retractions(ctx: Context) -> Iterator[Finding]:
    """Retractions name real tables and replacements; a retracted ID stays unused; no released row vanishes silently."""
    table = ctx.rows("retractions")
    if table is None:
        return
    keys = {
        name: {
            "|".join(str(v) for v in key)
            for key in typed.frame[list(typed.spec.primary_key)].astype("string").itertuples(index=False, name=None)
        }
        for name, typed in ctx.tables.items()
        if typed.spec.primary_key
    }
    retracted = set()
    for line, row in _records(table):
        name, row_id = row.get("table_name"), row.get("row_id")
        retracted.add((name, row_id))
        if name not in ctx.specs:
            yield ctx.finding(
                "retraction-error", f"{name!r} is not a table of the package", "retractions", line, "table_name", name
            )
            continue
        if name in keys and row_id in keys[name]:
            yield ctx.finding(
                "retracted-id-reused", f"{name} has a row {row_id!r} again", "retractions", line, "row_id", row_id
            )
        replacement = row.get("replacement_id")
        if replacement is not None and name in keys and replacement not in keys[name]:
            yield ctx.finding(
                "retraction-error",
                f"the replacement {replacement!r} is not a row of {name}",
                "retractions",
                line,
                "replacement_id",
                replacement,
            )
    baseline = ctx.baseline
    if baseline is None:
        return
    for name, rows in baseline.tables.items():
        spec = ctx.specs.get(name)
        if spec is None or name not in keys or not spec.primary_key:
            continue
        for old in rows:
            key = "|".join(old.get(column, "") for column in spec.primary_key)
            if key not in keys[name] and (name, key) not in retracted:
                yield Finding(
                    "removed-without-retraction",
                    f"{name} row {key!r} of release {baseline.label} is gone without a retraction",
                    table=name,
                    file=ctx.tables[name].relpath,
                    value=key,
                    expected="the row, or a retraction record",
                    found_by=(ENGINE,),
                )


_RELEASE_HEADING = re.compile(r"^## \[?v?(?P<version>[0-9]+\.[0-9]+\.[0-9]+[^\]\s]*)\]?", re.MULTILINE)


def released_versions(changelog: str) -> list[str]:
    """Versions of CHANGELOG.md's released sections, newest first (Unreleased is skipped)."""
    return [m["version"] for m in _RELEASE_HEADING.finditer(changelog)]


@rule("version-mismatch")
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
def text_hygiene(ctx: Context) -> Iterator[Finding]:
    """Text cells are NFC and hold no control, zero-width or bidi characters.

    Line ends are allowed only in fields marked ``multiline``.
    """
    for name, typed in ctx.tables.items():
        text = typed.text
        for spec in typed.spec.fields:
            if text is None or spec.name not in text.columns:
                continue
            column = text[spec.name].dropna()
            pattern = _INVISIBLE if spec.multiline else _INVISIBLE_SINGLE_LINE
            hidden = column[column.str.contains(pattern, regex=True)]
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
            ascii_only = column.str.isascii()
            for line, value in column[~ascii_only].items():
                if not unicodedata.is_normalized("NFC", value):
                    yield ctx.finding(
                        "text-not-nfc",
                        "the cell is not in Unicode NFC",
                        name,
                        line,
                        spec.name,
                        value,
                        unicodedata.normalize("NFC", value),
                    )


def run(
    package: Package, tables: dict[str, TypedTable], specs: dict[str, TableSpec] | None = None, baseline=None
) -> list[Finding]:
    ctx = Context(
        package=package,
        tables=tables,
        specs=specs if specs is not None else {name: typed.spec for name, typed in tables.items()},
        baseline=baseline,
    )
    findings: list[Finding] = []
    for _, _, function in RULES:
        findings.extend(function(ctx))
    return findings


def catalogue() -> list[tuple[str, tuple[str, ...], str]]:
    """(rule name, codes, first line of its docstring) for documentation."""
    return [(name, codes, (function.__doc__ or "").strip().splitlines()[0]) for name, codes, function in RULES]
