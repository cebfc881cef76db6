"""The real data package: valid with frictionless and uslatam, readable by plain pandas, complete."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from uslatam.schema import TABLE_ROLES, TableSpec
from uslatam.validate import validate

from .conftest import ROOT, expected_history_findings

SOURCE = "insightcrime-2017-05-19-mexico-colombia-meetings"
TEXT_FILE = ROOT / "sources" / f"{SOURCE}.txt"
# From ../shared/sources/README.md: the sha256 of the captured article.
SHARED_SHA256 = "59d4d93e01f738fe9b36dd3adf8a10b9707d1a388d3f98d9b1fa9cce3768b189"
DESCRIPTOR = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
TABLES = [r["name"] for r in DESCRIPTOR["resources"]]
SPECS = {
    r["name"]: TableSpec.from_schema(r["name"], json.loads((ROOT / r["schema"]).read_text(encoding="utf-8")))
    for r in DESCRIPTOR["resources"]
}


def rows(table: str) -> list[dict]:
    with open(ROOT / "data" / f"{table}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_stored_text_is_byte_identical_to_the_shared_copy() -> None:
    data = TEXT_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHARED_SHA256
    assert len(data) == 9916 and len(data.decode("utf-8")) == 9873
    shared = ROOT.parent / "shared" / "sources" / TEXT_FILE.name
    if shared.is_file():
        assert shared.read_bytes() == data


def test_frictionless_command_reports_the_package_valid() -> None:
    frictionless = [sys.executable, "-m", "frictionless"]
    result = subprocess.run([*frictionless, "validate", "datapackage.json"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "INVALID" not in result.stdout


def test_uslatam_reports_the_package_valid_with_no_findings() -> None:
    report = validate(ROOT)
    assert report.valid, [f.to_dict() for f in report.findings]
    assert [f.code for f in report.findings] == expected_history_findings()
    assert set(report.tables) == set(TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_every_table_loads_with_plain_pandas(table: str) -> None:
    frame = pd.read_csv(ROOT / "data" / f"{table}.csv")
    schema = json.loads((ROOT / "schemas" / f"{table}.json").read_text(encoding="utf-8"))
    assert list(frame.columns) == [f["name"] for f in schema["fields"]]
    assert len(frame) == len(rows(table))
    assert len(frame) > 0 or table == "retractions"


def test_every_span_is_the_stored_text_at_its_offsets() -> None:
    text = TEXT_FILE.read_text(encoding="utf-8")
    for span in rows("spans"):
        start, end = int(span["start"]), int(span["end"])
        assert text[start:end] == span["exact"], span["span_id"]
        assert text[max(0, start - 32) : start] == span["prefix"], span["span_id"]
        assert text[end : end + 32] == span["suffix"], span["span_id"]


def test_every_fact_row_cites_a_span() -> None:
    span_ids = {s["span_id"] for s in rows("spans")}
    citing = [name for name, spec in SPECS.items() if "span_id" in spec.references("spans")]
    assert len(citing) >= 7
    for table in citing:
        for row in rows(table):
            assert row["span_id"] in span_ids, (table, row)


def test_every_span_supports_at_least_one_row() -> None:
    cited = set()
    for resource in DESCRIPTOR["resources"]:
        schema = json.loads((ROOT / resource["schema"]).read_text(encoding="utf-8"))
        span_fields = [
            k["fields"][0] for k in schema.get("foreignKeys", []) if k["reference"].get("resource") == "spans"
        ]
        for row in rows(resource["name"]):
            cited.update(row[f] for f in span_fields if row[f])
    assert {s["span_id"] for s in rows("spans")} - cited == set()


def _article_body(text: str) -> str:
    """The article without the page furniture after the share bar."""
    return text[: text.index("share icon")]


# Quoted words in the article that are not someone's direct quote, with the reason.
NOT_QUOTES = {
    "war on drugs": "scare quotes around a common phrase, attributed to no speaker",
}


def test_every_passage_in_quotation_marks_is_recorded_or_explained() -> None:
    text = TEXT_FILE.read_text(encoding="utf-8")
    body = _article_body(text)
    quoted_spans = {
        (int(s["start"]), int(s["end"]))
        for s in rows("spans")
        if s["span_id"] in {q["span_id"] for q in rows("quotes")}
    }
    for match in re.finditer(r'"([^"]+)"', body):
        if match.group(1) in NOT_QUOTES:
            continue
        assert (match.start(1), match.end(1)) in quoted_spans, f"no quote row for {match.group(1)!r}"


def test_every_number_in_the_article_is_recorded() -> None:
    body = _article_body(TEXT_FILE.read_text(encoding="utf-8"))
    recorded = {s["value_text"] for s in rows("statistics")}
    dates = " ".join(e["date_start"] for e in rows("events"))
    for match in re.finditer(r"[0-9][0-9.,]*(?: million| billion)?", body):
        words = match.group().rstrip(".,")
        if words in ("18", "2016"):  # "May 18", "November 2016": dates of recorded events
            assert words in dates or words == "18"
            continue
        assert words in recorded, f"no statistic for {words!r}"


def test_the_article_metadata_not_in_the_text_is_marked_so() -> None:
    source = rows("sources")[0]
    assert source["url_basis"] == "publisher_page"
    assert source["published_basis"] == "public_reposts"
    assert {a["basis"] for a in rows("source_authors")} == {"public_reposts"}
    assert source["title_basis"] == "text" and source["title_span_id"]


def test_key_facts_are_recorded_as_the_text_states_them() -> None:
    stats = {s["statistic_id"]: s for s in rows("statistics")}
    whole = stats["us-substance-use-disorder-government-assistance"]
    part = stats["us-substance-use-disorder-government-assistance-opioid"]
    assert (float(whole["value"]), whole["value_text"], whole["qualifier"]) == (2_800_000, "2.8 million", "estimated")
    assert (float(part["value"]), part["parent_statistic_id"]) == (222_000, whole["statistic_id"])
    claims = {c["claim_id"]: c for c in rows("trend_claims")}
    coca = claims["colombia-coca-cultivation-record-high-2016"]
    assert (coca["direction"], coca["asserted_by_entity_id"], coca["period"]) == ("record_high", "donald-trump", "2016")
    offices = {(o["person_entity_id"], o["position_id"]) for o in rows("occupancies")}
    assert ("rex-tillerson", "us-secretary-of-state") in offices
    assert ("miguel-angel-osorio-chong", "mex-secretary-of-the-interior") in offices


def test_descriptor_states_integrity_and_licences() -> None:
    for resource in DESCRIPTOR["resources"]:
        data = (ROOT / resource["path"]).read_bytes()
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert {"CC-BY-4.0"} <= {lic.get("name") for lic in DESCRIPTOR["licenses"]}
    assert any("non-commercial" in lic.get("title", "") for lic in DESCRIPTOR["licenses"])


@pytest.mark.parametrize("table", TABLES)
def test_schema_says_everything_it_can(table: str) -> None:
    schema = json.loads((ROOT / "schemas" / f"{table}.json").read_text(encoding="utf-8"))
    assert schema["primaryKey"] and schema["missingValues"] == [""]
    for field in schema["fields"]:
        assert field.get("description") and "example" in field and field.get("type"), field["name"]
    if schema["tableRole"] in ("source", "fact"):  # a log points into any table (checked by a rule), a codelist nowhere
        referenced = {k["fields"][0] for k in schema.get("foreignKeys", [])}
        referenced |= {f["name"] for f in schema["fields"] if f.get("referenceTableField")}  # a key of a named table
        id_like = {f["name"] for f in schema["fields"] if f["name"].endswith("_id")} - set(schema["primaryKey"])
        assert id_like <= referenced, f"{table}: reference columns without a foreign key: {id_like - referenced}"


def test_rows_are_in_the_canonical_order() -> None:
    for name, spec in SPECS.items():
        table_rows = rows(name)
        assert table_rows == sorted(table_rows, key=spec.order_key()), name


def test_every_schema_gives_its_table_role_and_a_row_order() -> None:
    for name, spec in SPECS.items():
        assert spec.role in TABLE_ROLES, f"schemas/{name}.json: give a tableRole, one of {list(TABLE_ROLES)}"
        assert spec.order, f"schemas/{name}.json: give a primaryKey or rowOrder"


def test_every_data_and_schema_file_is_a_table_of_the_descriptor() -> None:
    named = {r["path"] for r in DESCRIPTOR["resources"]} | {r["schema"] for r in DESCRIPTOR["resources"]}
    present = {f"{folder}/{p.name}" for folder in ("data", "schemas") for p in (ROOT / folder).iterdir()}
    assert present - named == set(), "add the table to datapackage.json's resources"
