"""The support checks (uslatam.validate.rules.support) on small packages built here from the invented fixture."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from uslatam.package import refresh_integrity
from uslatam.schema import TableSpec
from uslatam.validate import validate
from uslatam.validate.rules.support import _date_words, id_dates

from .conftest import FIXTURES

SOURCE = "invented-2020-03-04-harbour-ferry"


def _package(tmp_path: Path) -> Path:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "invented", package)
    (package / "expected.json").unlink()
    return package


def _rows(package: Path, table: str) -> tuple[list[str], list[dict]]:
    with open(package / "data" / f"{table}.csv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _put(package: Path, table: str, header: list[str], rows: list[dict]) -> None:
    """Write the rows in the table's canonical order (the schema's rowOrder), as uslatam add would."""
    schema = json.loads((package / "schemas" / f"{table}.json").read_text(encoding="utf-8"))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=TableSpec.from_schema(table, schema).order_key()))
    (package / "data" / f"{table}.csv").write_text(buffer.getvalue(), encoding="utf-8")
    refresh_integrity(package)


def _edit(package: Path, table: str, key: tuple[str, str], **cells: str) -> int:
    """Set cells of the row whose ``key[0]`` is ``key[1]``; return its physical line."""
    header, rows = _rows(package, table)
    position = next(i for i, row in enumerate(rows) if row[key[0]] == key[1])
    rows[position].update(cells)
    _put(package, table, header, rows)
    _, written = _rows(package, table)  # the row may have moved, to keep the canonical order
    return next(i for i, row in enumerate(written) if row[key[0]] == cells.get(key[0], key[1])) + 2


def _add_span(package: Path, span_id: str, words: str) -> None:
    text = (package / "sources" / f"{SOURCE}.txt").read_text(encoding="utf-8")
    start = text.index(words)
    header, rows = _rows(package, "spans")
    end = start + len(words)
    rows.append(
        {
            "span_id": span_id,
            "source_id": SOURCE,
            "start": str(start),
            "end": str(end),
            "exact": words,
            "prefix": text[max(0, start - 32) : start],
            "suffix": text[end : end + 32],
        }
    )
    _put(package, "spans", header, rows)


def _found(package: Path) -> set[tuple]:
    return {f.location for f in validate(package, against=False).findings}


def test_the_invented_package_is_valid_with_coverage_on() -> None:
    report = validate(FIXTURES / "invented", against=False)
    descriptor = json.loads((FIXTURES / "invented" / "datapackage.json").read_text())
    assert descriptor["uslatam"] == {"coverage": True}
    assert report.valid and report.findings == []


# --- IDs and dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "dates"),
    [
        ("2017-05-18-us-mexico-security-meeting", ["2017-05-18"]),
        ("us-officials-visit-to-mexico-2017-05", ["2017-05"]),
        ("coca-cultivation-2015-2016", ["2015", "2016"]),
        ("coca-2016-13-points", ["2016"]),  # 13 is no month
        ("route-66", []),
        ("x-12017-y", []),
        ("x-1850-y", []),  # outside 1900-2100
    ],
)
def test_dates_embedded_in_ids(identifier: str, dates: list[str]) -> None:
    assert id_dates(identifier) == dates


def test_an_id_date_the_row_does_not_have(tmp_path: Path) -> None:
    package = _package(tmp_path)
    line = _edit(
        package,
        "events",
        ("event_id", "2020-03-03-harbour-town-council-approves-ferry-plan"),
        date_start="2020-03",
        date_precision="month",
    )
    assert ("id-date-mismatch", "events", line, "event_id") in _found(package)


@pytest.mark.parametrize(
    ("date", "words", "basis", "wrong"),
    [
        ("2016-11", "in November 2016", "explicit", False),
        ("2016-10", "in November 2016", "explicit", True),
        ("2015-11", "in November 2016", "explicit", True),
        ("2016", "last year, 2016,", "explicit", False),
        ("2019-09-05", "on Sept. 5, 2019", "explicit", False),
        ("2019-09-05", "on 2019-09-05", "explicit", False),
        ("2017-05-18", "On May 18", "year_from_publication", False),
        ("2017-05-17", "On May 18", "year_from_publication", True),
        ("2016-05-18", "On May 18", "year_from_publication", True),  # published 2017
        ("2017-06-18", "On May 18", "year_from_publication", True),
    ],
)
def test_date_words_give_the_date(date: str, words: str, basis: str, wrong: bool) -> None:
    assert (_date_words(date, words, basis, "2017-05-19") is not None) is wrong


def test_a_date_its_span_does_not_give(tmp_path: Path) -> None:
    package = _package(tmp_path)
    line = _edit(
        package,
        "events",
        ("event_id", "2020-03-03-harbour-town-council-approves-ferry-plan"),
        date_start="2020-03-03",
        date_basis="explicit",  # "On March 3" has no year
    )
    assert _found(package) == {("date-basis-mismatch", "events", line, "date_start")}


def test_as_of_publication_is_the_publication_date(tmp_path: Path) -> None:
    package = _package(tmp_path)
    key = ("claim_id", "critics-ferry-plan-too-costly")
    line = _edit(package, "claims", key, asserted_on="2020-03-04", asserted_on_precision="day")
    assert _found(package) == {("conditional-constraint", "claims", line, "asserted_on")}  # basis none: no date
    _edit(package, "claims", key, asserted_on_basis="as_of_publication")
    assert _found(package) == set()
    _edit(package, "claims", key, asserted_on="2020-03-03")
    assert _found(package) == {("date-basis-mismatch", "claims", line, "asserted_on")}


def test_a_date_inherited_from_the_event_it_names(tmp_path: Path) -> None:
    package = _package(tmp_path)
    key = ("claim_id", "critics-ferry-plan-too-costly")
    event = "2020-03-03-harbour-town-council-approves-ferry-plan"
    line = _edit(
        package,
        "claims",
        key,
        event_id=event,
        asserted_on="2020-03-03",
        asserted_on_precision="day",
        asserted_on_basis="from_event",
    )
    assert _found(package) == set()
    _edit(package, "claims", key, asserted_on="2020-03", asserted_on_precision="month")
    assert _found(package) == {("date-basis-mismatch", "claims", line, "asserted_on")}
    _edit(package, "claims", key, event_id="", asserted_on="2020-03-03", asserted_on_precision="day")
    assert _found(package) == {("date-basis-mismatch", "claims", line, "asserted_on")}  # nothing to inherit from


# --- conditions ------------------------------------------------------------------------


def test_conditions_on_codes_on_any_value_and_on_empty(tmp_path: Path) -> None:
    package = _package(tmp_path)
    quote = ("quote_id", "ana-ruiz-waited-long-enough")
    event = "2020-03-03-harbour-town-council-approves-ferry-plan"
    line = _edit(package, "quotes", quote, event_id=event)  # requiredWhen {"event_id": "*"}
    assert _found(package) == {("conditional-constraint", "quotes", line, "event_span_id")}
    _edit(package, "quotes", quote, event_id="", event_span_id="inv-on-march-3")  # emptyWhen {"event_id": null}
    assert _found(package) == {("conditional-constraint", "quotes", line, "event_span_id")}
    _edit(package, "quotes", quote, event_id=event)
    assert _found(package) == set()


def test_a_number_kind_needs_a_numeral_and_a_quantifier_no_value(tmp_path: Path) -> None:
    package = _package(tmp_path)
    key = ("statistic_id", "second-ferry-passengers-per-day")
    line = _edit(package, "statistics", key, value="")
    assert _found(package) == {("conditional-constraint", "statistics", line, "value")}
    _edit(package, "statistics", key, value_kind="quantifier")
    assert _found(package) == set()  # a quantifier has no value, and its words need be no numeral
    _edit(package, "statistics", key, value="1200")
    assert _found(package) == {("conditional-constraint", "statistics", line, "value")}
    _edit(package, "statistics", key, value_text="passengers", value_kind="number", value="1200")
    assert _found(package) == {("value-text-unparsed", "statistics", line, "value_text")}


# --- words and mentions ----------------------------------------------------------------


def test_words_as_written_must_be_in_the_span(tmp_path: Path) -> None:
    package = _package(tmp_path)
    key = ("event_id", "2020-03-03-harbour-town-council-approves-ferry-plan")
    line = _edit(package, "events", key, object_as_written="a plan to run a third ferry")
    assert _found(package) == {("words-not-in-span", "events", line, "object_as_written")}


def test_a_pronoun_names_its_entity_through_its_antecedent(tmp_path: Path) -> None:
    package = _package(tmp_path)
    statistic_line = 2
    # "She added" is tied to "Mayor Ana Ruiz": without the antecedent the statistic names nobody
    line = _edit(package, "mentions", ("mention_id", "ana-ruiz-she-added"), antecedent_mention_id="")
    assert _found(package) == {
        ("conditional-constraint", "mentions", line, "antecedent_mention_id"),
        ("entity-not-mentioned", "statistics", statistic_line, "asserted_by_entity_id"),
    }
    # an antecedent of another entity, or a later one, is no antecedent
    _edit(package, "mentions", ("mention_id", "ana-ruiz-she-added"), antecedent_mention_id="critics-name")
    assert _found(package) == {
        ("mention-antecedent-mismatch", "mentions", line, "antecedent_mention_id"),
        ("entity-not-mentioned", "statistics", statistic_line, "asserted_by_entity_id"),
    }


def test_a_chain_of_descriptions_ends_at_a_name(tmp_path: Path) -> None:
    package = _package(tmp_path)
    _add_span(package, "inv-m-the-mayor", "Ana Ruiz said")
    header, rows = _rows(package, "mentions")
    rows.append(
        {
            "mention_id": "ana-ruiz-ana-ruiz-said",
            "source_id": SOURCE,
            "entity_id": "ana-ruiz",
            "mention_type": "description",
            "antecedent_mention_id": "ana-ruiz-mayor-ana-ruiz",
            "span_id": "inv-m-the-mayor",
        }
    )
    _put(package, "mentions", header, rows)
    # the antecedent starts before this mention: "Mayor Ana Ruiz" starts earlier than "Ana Ruiz said"
    _edit(package, "mentions", ("mention_id", "ana-ruiz-she-added"), antecedent_mention_id="ana-ruiz-ana-ruiz-said")
    assert _found(package) == set()


def test_a_span_too_narrow_to_name_the_speaker(tmp_path: Path) -> None:
    package = _package(tmp_path)
    _add_span(package, "inv-a-said", "said")
    line = _edit(package, "quotes", ("quote_id", "ana-ruiz-waited-long-enough"), attribution_span_id="inv-a-said")
    assert _found(package) == {("entity-not-mentioned", "quotes", line, "speaker_entity_id")}


# --- codes and named tables ------------------------------------------------------------


def test_a_role_admits_only_its_entity_types(tmp_path: Path) -> None:
    package = _package(tmp_path)
    key = ("event_id", "2020-03-03-harbour-town-council-approves-ferry-plan")
    line = _edit(package, "event_participants", key, role="speaker")  # person group only
    assert _found(package) == {("code-not-admitted", "event_participants", line, "role")}
    _edit(package, "event_participants", key, role="actor")  # admits any type
    assert _found(package) == set()


def test_an_id_is_a_key_of_the_table_its_row_names(tmp_path: Path) -> None:
    package = _package(tmp_path)
    header, rows = _rows(package, "relations")
    _add_span(package, "inv-r-critics", "Critics said the plan was too costly.")
    relation = {
        "relation_id": "critics-evaluate-approval",
        "source_id": SOURCE,
        "subject_table": "claims",
        "subject_id": "critics-ferry-plan-too-costly",
        "relation": "evaluates",
        "object_table": "events",
        "object_id": "2020-03-03-harbour-town-council-approves-ferry-plan",
        "span_id": "inv-r-critics",
    }
    _put(package, "relations", header, [relation])
    assert _found(package) == set()
    _put(package, "relations", header, [{**relation, "object_table": "claims"}])
    assert _found(package) == {("foreign-key", "relations", 2, "object_id")}


# --- the schemas' properties -----------------------------------------------------------


def _schema(package: Path, table: str) -> dict:
    return json.loads((package / "schemas" / f"{table}.json").read_text(encoding="utf-8"))


def _put_schema(package: Path, table: str, schema: dict) -> None:
    (package / "schemas" / f"{table}.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("table", "field", "key", "value"),
    [
        ("events", "object_as_written", "asWrittenIn", ["no_such_span"]),
        ("events", "date_start", "basisField", "no_such_basis"),
        ("quotes", "event_span_id", "requiredWhen", {"no_such_field": "*"}),
        ("events", "object_as_written", "asWrittenIn", ["summary"]),  # a field, but no span reference
        ("event_participants", "role", "admitsTypeOf", "source_id_typo"),
    ],
)
def test_lint_refuses_a_property_naming_no_such_field(tmp_path: Path, table: str, field: str, key: str, value) -> None:
    package = _package(tmp_path)
    schema = _schema(package, table)
    next(f for f in schema["fields"] if f["name"] == field)[key] = value
    _put_schema(package, table, schema)
    findings = validate(package, against=False).findings
    assert ("schema-error", table, field) in {(f.code, f.table, f.column) for f in findings}


def test_lint_needs_a_mentions_table_for_mentioned_in(tmp_path: Path) -> None:
    package = _package(tmp_path)
    schema = _schema(package, "mentions")
    del schema["mentions"]
    _put_schema(package, "mentions", schema)
    findings = validate(package, against=False).findings
    assert ("schema-error", "quotes", "speaker_entity_id") in {(f.code, f.table, f.column) for f in findings}


def test_lint_checks_the_coverage_settings(tmp_path: Path) -> None:
    package = _package(tmp_path)
    schema = _schema(package, "exclusions")
    schema["coverage"] = "ignore"
    _put_schema(package, "exclusions", schema)
    descriptor = json.loads((package / "datapackage.json").read_text())
    descriptor["uslatam"] = {"coverage": "yes"}
    (package / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")
    codes = {(f.code, f.table, f.column) for f in validate(package, against=False).findings}
    assert ("schema-error", "exclusions", None) in codes
    assert ("package-error", None, "uslatam") in codes
