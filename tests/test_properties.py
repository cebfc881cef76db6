"""Property-based tests: rows drawn from the schemas (strategies of our own, not pandera's).

- valid rows drawn from the schemas always validate (no false positives);
- any single corruption of such a package is rejected;
- an export round trip is the identity; a package diffed with itself is empty;
- adding rows then diffing gives exactly the added rows.
"""

from __future__ import annotations

import csv
import json
import shutil
import unicodedata
from pathlib import Path

import pycountry
from hypothesis import given, settings
from hypothesis import strategies as st

from uslatam.csvio import dumps
from uslatam.diff import diff
from uslatam.loading import load
from uslatam.package import refresh_integrity
from uslatam.rows import InputRow, add_rows
from uslatam.schema import TableSpec
from uslatam.validate import validate

from .conftest import FIXTURES, record
from .corruption import OPERATORS, read_table

CLEAN = FIXTURES / "clean"
TEXT = (CLEAN / "sources" / "insightcrime-2017-05-19-mexico-colombia-meetings.txt").read_text(encoding="utf-8")
SOURCE = "insightcrime-2017-05-19-mexico-colombia-meetings"
PUBLISHED = "2017-05-19"
COUNTRIES = sorted(c.alpha_3 for c in pycountry.countries)


def _table(name: str) -> tuple[list[str], list[dict]]:
    with open(CLEAN / "data" / f"{name}.csv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def _schema(name: str) -> dict:
    return json.loads((CLEAN / "schemas" / f"{name}.json").read_text(encoding="utf-8"))


ENTITIES = _table("entities")[1]
SPANS = [r for r in _table("spans")[1] if r["exact"].split()]
SPAN_IDS = [r["span_id"] for r in SPANS]
COUNTRY_ENTITIES = [r["entity_id"] for r in ENTITIES if r["entity_type"] in ("country", "region")]
ENUMS = {
    f["name"]: f["constraints"]["enum"]
    for name in ("entities", "trend_claims", "source_authors")
    for f in _schema(name)["fields"]
    if "enum" in f.get("constraints", {})
}

# letters only: a run of digits in an ID would be read as the date the ID claims (id-date-mismatch)
slugs = st.from_regex(r"[a-z]{1,8}(-[a-z]{1,8}){0,2}", fullmatch=True)
# Text a person would type: letters, digits, punctuation and spaces; always NFC, never invisible.
free_text = (
    st.text(
        st.characters(categories=["L", "N", "P", "Zs"], exclude_characters="\u061c\u2028\u2029"),
        min_size=1,
        max_size=40,
    )
    .map(lambda s: unicodedata.normalize("NFC", s).strip())  # no whitespace around a cell (cell-whitespace)
    .filter(lambda s: s and unicodedata.is_normalized("NFC", s))
)


@st.composite
def date_with_precision(draw) -> tuple[str, str]:
    precision = draw(st.sampled_from(["day", "month", "year", "unknown"]))
    if precision == "unknown":
        return "", precision
    day = draw(
        st.dates(min_value=__import__("datetime").date(1990, 1, 1), max_value=__import__("datetime").date(2017, 5, 19))
    )
    return {"day": day.isoformat(), "month": day.isoformat()[:7], "year": day.isoformat()[:4]}[precision], precision


@st.composite
def span_row(draw, span_id: str) -> dict:
    start = draw(st.integers(0, len(TEXT) - 2))
    end = draw(st.integers(start + 1, min(len(TEXT), start + 200)))
    while start < end and TEXT[start].isspace():  # a span is words: no whitespace around them
        start += 1
    while end > start and TEXT[end - 1].isspace():
        end -= 1
    if start == end:  # whitespace only: the nearest word instead
        start = next(i for i in range(len(TEXT)) if not TEXT[i].isspace())
        end = start + 1
    return {
        "span_id": span_id,
        "source_id": SOURCE,
        "start": str(start),
        "end": str(end),
        "exact": TEXT[start:end],
        "prefix": TEXT[max(0, start - 32) : start],
        "suffix": TEXT[end : end + 32],
    }


@st.composite
def entity_row(draw, entity_id: str) -> dict:
    return {
        "entity_id": entity_id,
        "entity_type": draw(st.sampled_from(ENUMS["entity_type"])),
        "name": draw(free_text),
        "country_code": draw(st.sampled_from(["", *COUNTRIES])),
        "span_id": draw(st.sampled_from(SPAN_IDS)),
    }


@st.composite
def words_of(draw, exact: str) -> str:
    """Some of a span's words, as the text writes them: what an as-written column may hold."""
    words = exact.split()
    first = draw(st.integers(0, len(words) - 1))
    last = draw(st.integers(first, min(len(words) - 1, first + 5)))
    return " ".join(words[first : last + 1])


# (basis, period, precision, whether the words of the date are cited): combinations the schema's
# requiredWhen / emptyWhen admit, for a claim the source states in its own voice
PERIODS = [
    ("none", "", "unknown", False),
    ("as_of_publication", PUBLISHED, "day", False),
    ("recent", "", "unknown", True),
]


@st.composite
def trend_claim_row(draw, claim_id: str) -> dict:
    span = draw(st.sampled_from(SPANS))
    basis, period, precision, dated = draw(st.sampled_from(PERIODS))
    return {
        "claim_id": claim_id,
        "source_id": SOURCE,
        "subject": draw(words_of(span["exact"])),
        "area_entity_id": "",
        "direction": draw(st.sampled_from(ENUMS["direction"])),
        "comparison_as_written": draw(st.one_of(st.just(""), words_of(span["exact"]))),
        "period": period,
        "period_precision": precision,
        "period_basis": basis,
        "period_span_id": draw(st.sampled_from(SPAN_IDS)) if dated else "",
        "certainty": draw(st.sampled_from(ENUMS["certainty"])),
        "voice": "source",
        "asserted_by_entity_id": "",
        "attribution_span_id": "",
        "span_id": span["span_id"],
    }


@st.composite
def additions(draw) -> dict[str, list[dict]]:
    """New rows for several tables, with fresh unique IDs."""
    taken = {r["entity_id"] for r in ENTITIES} | set(SPAN_IDS)
    ids = draw(st.lists(slugs.filter(lambda s: s not in taken), min_size=3, max_size=9, unique=True))
    third = max(1, len(ids) // 3)
    authors = draw(st.lists(free_text, min_size=0, max_size=3))
    return {
        "spans": [draw(span_row(f"p-{i}")) for i in ids[:third]],
        "entities": [draw(entity_row(i)) for i in ids[third : 2 * third]],
        "trend_claims": [draw(trend_claim_row(i)) for i in ids[2 * third :]],
        "source_authors": [
            {
                "source_id": SOURCE,
                "author_order": str(3 + n),
                "name": name,
                "basis": draw(st.sampled_from(ENUMS["basis"])),
            }
            for n, name in enumerate(authors)
        ],
    }


def _write(package: Path, rows: dict[str, list[dict]]) -> None:
    """The drawn rows added at their places in the canonical order (row-order is an error)."""
    for name, new in rows.items():
        header, old = _table(name)
        ordered = sorted(old + new, key=TableSpec.from_schema(name, _schema(name)).order_key())
        (package / "data" / f"{name}.csv").write_text(
            dumps(header, [[r[h] for h in header] for r in ordered]), encoding="utf-8"
        )
    refresh_integrity(package)


def _fresh(tmp_path_factory) -> Path:
    package = tmp_path_factory.mktemp("property") / "package"
    shutil.copytree(CLEAN, package)
    (package / "expected.json").unlink()
    return package


@settings(max_examples=max(200, settings.default.max_examples))  # hundreds: no false positive may hide
@given(rows=additions())
def test_rows_drawn_from_the_schemas_always_validate(tmp_path_factory, rows) -> None:
    package = _fresh(tmp_path_factory)
    _write(package, rows)
    report = validate(package, against=False, engines=("pandera",))
    record("property", name="valid-rows-validate", ok=report.valid)
    assert report.valid, [f.to_dict() for f in report.findings]


@given(rows=additions(), data=st.data())
def test_any_single_corruption_is_rejected(tmp_path_factory, rows, data) -> None:
    package = _fresh(tmp_path_factory)
    _write(package, rows)
    resources = json.loads((package / "datapackage.json").read_text())["resources"]
    resource = data.draw(st.sampled_from(resources))
    applicable = [name for name, op in OPERATORS.items() if op(read_table(package, resource)) is not None]
    name = data.draw(st.sampled_from(applicable))
    mutation = OPERATORS[name](read_table(package, resource))
    for path, content in mutation.files.items():
        (package / path).write_bytes(content)
    if mutation.rehash:
        refresh_integrity(package)
    report = validate(package, against=False, engines=("pandera",))
    record("property", name="single-corruption-rejected", ok=not report.valid)
    assert not report.valid, (name, resource["name"])


@given(rows=additions())
def test_export_round_trip_and_self_diff_are_identities(tmp_path_factory, rows) -> None:
    from uslatam.export import export

    package = _fresh(tmp_path_factory)
    _write(package, rows)
    exported = package.parent / "facts.json"
    export("json", exported, package)
    tables = {r["name"]: r["data"] for r in json.loads(exported.read_text())["resources"]}  # a Data Package
    for name, frame in load(package).items():
        with open(package / "data" / f"{name}.csv", encoding="utf-8", newline="") as handle:
            expected = [{k: v for k, v in r.items()} for r in csv.DictReader(handle)]
        got = [
            {k: "" if v is None else (str(v) if not isinstance(v, float) else repr(v)) for k, v in r.items()}
            for r in tables[name]
        ]
        assert got == expected, name
        assert len(frame) == len(expected)
    assert diff(package, package).empty
    record("property", name="round-trip-and-self-diff", ok=True)


@given(claims=st.lists(slugs, min_size=1, max_size=3, unique=True), data=st.data())
def test_add_then_diff_gives_exactly_the_added_rows(tmp_path_factory, claims, data) -> None:
    package = _fresh(tmp_path_factory)
    before = package.parent / "before"
    shutil.copytree(package, before)
    spans = SPANS
    inputs = []
    for claim_id in claims:
        span = data.draw(st.sampled_from(spans))
        inputs.append(
            InputRow(
                "trend_claims",
                {
                    "claim_id": f"drawn-{claim_id}",
                    "source_id": SOURCE,
                    "subject": data.draw(words_of(span["exact"])),
                    "direction": data.draw(st.sampled_from(ENUMS["direction"])),
                    "period_precision": "unknown",
                    "period_basis": "none",
                    "certainty": data.draw(st.sampled_from(ENUMS["certainty"])),
                    "voice": "source",
                    "span": {"words": span["exact"], "prefix": span["prefix"]},
                },
                "drawn.yaml",
                1,
            )
        )
    add_rows(package, inputs)
    result = diff(before, package)
    added = {name: sorted(r[t.key_columns[0]] for r in t.added) for name, t in result.tables.items() if t.added}
    assert added == {"trend_claims": sorted(f"drawn-{c}" for c in claims)}
    assert all(not t.removed and not t.changed for t in result.tables.values())
    record("property", name="add-then-diff", ok=True)


def test_the_strategies_know_the_vocabularies_they_draw_from() -> None:
    assert set(ENUMS) >= {"entity_type", "direction", "certainty", "basis"}
