"""Write tests/fixtures/: a tiny clean package, and one package per defect.

The clean package is a consistent subset of the real one. Each case copies it,
breaks exactly one thing, and declares the findings that defect must produce as
(code, table, physical line, column) in expected.json. Lines are computed here
from the serialised CSV, independently of the validator.

Run ``python scripts/make_fixtures.py`` after changing the data model; the test
suite fails (naming this command) when the committed fixtures are stale.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from uslatam.package import json_bytes, sha256_tag
from uslatam.schema import TableSpec

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

# The clean fixture keeps these rows (by primary key) and every row they reference, and
# every table that is not a fact table ("tableRole") whole.
KEEP = {
    "quotes": ["tillerson-we-are-the-market", "tillerson-we-must-own-this-problem", "videgaray-tackle-jointly"],
    "occupancies": ["rex-tillerson-us-secretary-of-state-2017-05-18"],
    "statistics": [
        "us-substance-use-disorder-government-assistance",
        "us-substance-use-disorder-government-assistance-opioid",
        "us-support-for-addiction-treatment-resources",
    ],
    "trend_claims": ["colombia-coca-cultivation-record-high-2016", "mexico-heroin-production-rising"],
    "events": [
        "2016-11-colombia-farc-peace-deal",
        "2017-05-18-officials-recognize-need-to-tackle-drug-trade",
        "us-officials-visit-to-mexico",
    ],
    "event_participants": [
        ("2017-05-18-us-mexico-security-meeting", "rex-tillerson", "participant"),
        ("2016-11-colombia-farc-peace-deal", "santos-government", "signatory"),
    ],
    "claims": [
        "administration-dedication-to-treating-drug-abuse-called-into-question",
    ],
    "relations": ["encouraging-evaluates-tillerson-cash-flow"],
}
SPAN_WIDTH = 32


def kept_whole(schema: dict) -> bool:
    """Not a fact table (sources, code lists, the log), or the mentions, which say who each span names."""
    return schema.get("tableRole") != "fact" or schema.get("mentions") is True


def canonical(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


class Files:
    """A package held in memory: relative path -> bytes, with CSV helpers."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.schemas = {p[len("schemas/") : -5]: json.loads(b) for p, b in files.items() if p.startswith("schemas/")}

    # tables ---------------------------------------------------------------
    def table(self, name: str) -> tuple[list[str], list[list[str]]]:
        rows = list(csv.reader(io.StringIO(self.files[f"data/{name}.csv"].decode("utf-8"), newline="")))
        return rows[0], rows[1:]

    def put_table(self, name: str, header: list[str], rows: list[list[str]]) -> None:
        self.files[f"data/{name}.csv"] = canonical(header, rows).encode("utf-8")

    def put_sorted(self, name: str, header: list[str], rows: list[list[str]]) -> None:
        """The rows written in the table's canonical order (its schema's rowOrder), as uslatam add writes them."""
        key = TableSpec.from_schema(name, self.schemas[name]).order_key()
        self.put_table(name, header, sorted(rows, key=lambda row: key(dict(zip(header, row)))))

    def key_of(self, name: str) -> list[str]:
        return self.schemas[name]["primaryKey"]

    def row_index(self, name: str, key) -> int:
        header, rows = self.table(name)
        key = (key,) if isinstance(key, str) else tuple(key)
        positions = [header.index(k) for k in self.key_of(name)]
        for i, row in enumerate(rows):
            if tuple(row[p] for p in positions) == key:
                return i
        raise KeyError(f"{name}: no row {key}")

    def line(self, name: str, key) -> int:
        """Physical line of a row in the canonical file (a cell may hold line ends)."""
        header, rows = self.table(name)
        index = self.row_index(name, key)
        before = canonical(header, rows[:index])
        return before.count("\n") + 1

    def set_cell(self, name: str, key, column: str, value: str) -> int:
        header, rows = self.table(name)
        rows[self.row_index(name, key)][header.index(column)] = value
        self.put_table(name, header, rows)
        return self.line(name, key)

    def cell(self, name: str, key, column: str) -> str:
        header, rows = self.table(name)
        return rows[self.row_index(name, key)][header.index(column)]

    # descriptor -------------------------------------------------------------
    def descriptor(self) -> dict:
        return json.loads(self.files["datapackage.json"])

    def put_descriptor(self, descriptor: dict) -> None:
        self.files["datapackage.json"] = json_bytes(descriptor)

    def licence_sources(self, source_ids: list[str], *, keep: bool = True) -> None:
        """Name these sources in every licence of sources' terms (after the ones named, unless not ``keep``)."""
        d = self.descriptor()
        for licence in [*d.get("licenses", []), *(e for r in d["resources"] for e in r.get("licenses", []))]:
            if licence.get("sourceIds"):
                licence["sourceIds"] = [*(licence["sourceIds"] if keep else []), *source_ids]
        self.put_descriptor(d)

    def resource(self, descriptor: dict, name: str) -> dict:
        return next(r for r in descriptor["resources"] if r["name"] == name)

    def put_schema(self, name: str, schema: dict) -> None:
        self.schemas[name] = schema
        self.files[f"schemas/{name}.json"] = json_bytes(schema)

    def schema_line(self, name: str, field: str) -> int:
        text = self.files[f"schemas/{name}.json"].decode()
        return text[: text.index(f'"name": "{field}"')].count("\n") + 1

    def rehash(self) -> None:
        descriptor = self.descriptor()
        for resource in descriptor["resources"]:
            data = self.files.get(resource["path"])
            if data is not None:
                resource["bytes"] = len(data)
                resource["hash"] = sha256_tag(data)
        self.put_descriptor(descriptor)


def clean_package() -> Files:
    """A consistent subset of the real package: the rows in KEEP and all they reference."""
    real = {}
    for path in ["datapackage.json", "CITATION.cff"]:
        real[path] = (ROOT / path).read_bytes()
    # a changelog of its own, so that editing the real one does not make every fixture stale
    real["CHANGELOG.md"] = b"# Changelog\n\n## [Unreleased]\n"
    for folder in ["data", "schemas", "sources"]:
        for file in sorted((ROOT / folder).iterdir()):
            real[f"{folder}/{file.name}"] = file.read_bytes()
    package = Files(real)
    keep: dict[str, set] = {name: set() for name in package.schemas}
    queue = [(name, (k,) if isinstance(k, str) else tuple(k)) for name, keys in KEEP.items() for k in keys]
    for name in (n for n, schema in package.schemas.items() if kept_whole(schema)):
        header, rows = package.table(name)
        positions = [header.index(k) for k in package.key_of(name)]
        queue += [(name, tuple(r[p] for p in positions)) for r in rows]
    while queue:
        name, key = queue.pop()
        if key in keep[name]:
            continue
        keep[name].add(key)
        header, rows = package.table(name)
        row = dict(zip(header, package.table(name)[1][package.row_index(name, key)]))
        schema = package.schemas[name]
        for fk in schema.get("foreignKeys", []):
            target = fk["reference"].get("resource") or name
            value = row[fk["fields"][0]]
            if value:
                queue.append((target, (value,)))
        if name == "retractions" and row["replacement_id"]:  # what replaces a withdrawn row
            queue.append((row["table_name"], tuple(row["replacement_id"].split("|"))))
        for field in schema["fields"]:  # an ID of the table another field names
            if field.get("referenceTableField") and row[field["name"]]:
                queue.append((row[field["referenceTableField"]], (row[field["name"]],)))
    for name in package.schemas:
        header, rows = package.table(name)
        positions = [header.index(k) for k in package.key_of(name)]
        package.put_table(name, header, [r for r in rows if tuple(r[p] for p in positions) in keep[name]])
    descriptor = package.descriptor()
    descriptor["uslatam"] = {"coverage": False}  # a subset of the rows cannot cover the text
    package.put_descriptor(descriptor)
    package.rehash()
    return package


# An invented article (a second source text, no real event): the package of the coverage case.
INVENTED_ID = "invented-2020-03-04-harbour-ferry"
INVENTED_TEXT = (
    "Town News\n\n"
    "Harbour Council Approves Second Ferry\n\n"
    "On March 3, the Harbour Town council approved a plan to run a second ferry to Gull Island. "
    '"We have waited long enough," Mayor Ana Ruiz said. '
    "She added that the ferry would carry 1,200 passengers a day.\n\n"
    "Critics said the plan was too costly.\n\n"
    "Related: more town news\n"
)


def invented_package(clean: Files) -> Files:
    """The clean package's descriptor, schemas and code lists, with one invented source and its rows only."""
    text = INVENTED_TEXT
    package = Files({p: b for p, b in clean.files.items() if not p.startswith("sources/")})
    path = f"sources/{INVENTED_ID}.txt"
    package.files[path] = text.encode("utf-8")
    spans: dict[str, tuple[int, int]] = {}

    def span(span_id: str, words: str, after: str = "") -> str:
        start = text.index(words, text.index(after) if after else 0)
        spans[span_id] = (start, start + len(words))
        return span_id

    body_start, body_end = text.index("On March 3"), text.index("Related:")
    rows: dict[str, list[dict]] = {name: [] for name in package.schemas}
    source = {h: "" for h in package.table("sources")[0]}
    source.update(
        source_id=INVENTED_ID,
        title="Harbour Council Approves Second Ferry",
        title_basis="text",
        title_span_id=span("inv-title", "Harbour Council Approves Second Ferry"),
        publisher="Town News",
        publisher_basis="text",
        url="https://example.org/town-news/harbour-ferry",
        url_basis="publisher_page",
        published="2020-03-04",
        published_basis="publisher_page",
        language="en",
        reuse_terms="Invented for the tests of this package; no reuse terms.",
        text_path=path,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        bytes=str(len(text.encode())),
        code_points=str(len(text)),
        body_start=str(body_start),
        body_end=str(body_end),
        recording="complete",
    )
    rows["sources"].append(source)
    rows["source_authors"].append(
        {"source_id": INVENTED_ID, "author_order": "1", "name": "Town News staff", "basis": "publisher_page"}
    )
    entities = [
        ("harbour-town-council", "government_body", "Harbour Town council", "inv-e-council", "Harbour Town council"),
        ("ana-ruiz", "person", "Ana Ruiz", "inv-e-ana-ruiz", "Ana Ruiz"),
        ("gull-island", "place", "Gull Island", "inv-e-gull-island", "Gull Island"),
        ("critics", "collective", "Critics", "inv-e-critics", "Critics"),
    ]
    for entity_id, entity_type, name, span_id, words in entities:
        rows["entities"].append(
            {
                "entity_id": entity_id,
                "entity_type": entity_type,
                "name": name,
                "country_code": "",
                "span_id": span(span_id, words),
            }
        )
    mentions = [
        ("harbour-town-council-name", "harbour-town-council", "name", "", "inv-e-council"),
        ("gull-island-name", "gull-island", "name", "", "inv-e-gull-island"),
        ("ana-ruiz-mayor-ana-ruiz", "ana-ruiz", "title", "", span("inv-m-mayor-ana-ruiz", "Mayor Ana Ruiz")),
        ("ana-ruiz-she-added", "ana-ruiz", "pronoun", "ana-ruiz-mayor-ana-ruiz", span("inv-m-she", "She")),
        ("critics-name", "critics", "name", "", "inv-e-critics"),
    ]
    for mention_id, entity_id, kind, antecedent, span_id in mentions:
        rows["mentions"].append(
            {
                "mention_id": mention_id,
                "source_id": INVENTED_ID,
                "entity_id": entity_id,
                "mention_type": kind,
                "antecedent_mention_id": antecedent,
                "span_id": span_id,
            }
        )
    approval = span(
        "inv-approval", "On March 3, the Harbour Town council approved a plan to run a second ferry to Gull Island."
    )
    event = {h: "" for h in package.table("events")[0]}
    event.update(
        event_id="2020-03-03-harbour-town-council-approves-ferry-plan",
        source_id=INVENTED_ID,
        event_type="legislation_passed",
        status="occurred",
        polarity="affirmative",
        summary="The Harbour Town council approves a plan to run a second ferry to Gull Island.",
        object_as_written="a plan to run a second ferry to Gull Island",
        date_start="2020-03-03",
        date_precision="day",
        date_basis="year_from_publication",
        date_span_id=span("inv-on-march-3", "On March 3"),
        place_entity_id="",
        span_id=approval,
    )
    rows["events"].append(event)
    rows["event_participants"].append(
        {
            "event_id": event["event_id"],
            "entity_id": "harbour-town-council",
            "role": "approver",
            "acting_for_entity_id": "",
            "source_id": INVENTED_ID,
            "span_id": approval,
        }
    )
    quote = {h: "" for h in package.table("quotes")[0]}
    quote.update(
        quote_id="ana-ruiz-waited-long-enough",
        source_id=INVENTED_ID,
        speaker_entity_id="ana-ruiz",
        quote_type="full",
        span_id=span("inv-q-waited", "We have waited long enough,"),
        attribution_span_id=span("inv-a-mayor-said", "Mayor Ana Ruiz said"),
    )
    rows["quotes"].append(quote)
    statistic = {h: "" for h in package.table("statistics")[0]}
    statistic.update(
        statistic_id="second-ferry-passengers-per-day",
        source_id=INVENTED_ID,
        measure="Passengers the second ferry would carry a day, in the mayor's words",
        value="1200",
        value_text="1,200",
        value_kind="number",
        unit="persons",
        qualifier="as_stated",
        reference_period_precision="unknown",
        reference_period_basis="none",
        voice="attributed",
        asserted_by_entity_id="ana-ruiz",
        attribution_span_id=span("inv-a-she-added", "She added"),
        span_id=span("inv-s-passengers", "She added that the ferry would carry 1,200 passengers a day."),
    )
    rows["statistics"].append(statistic)
    claim = {h: "" for h in package.table("claims")[0]}
    claim.update(
        claim_id="critics-ferry-plan-too-costly",
        source_id=INVENTED_ID,
        claim_type="evaluation",
        summary="Critics say the ferry plan is too costly.",
        polarity="affirmative",
        certainty="asserted",
        aspiration="none",
        voice="attributed",
        asserted_by_entity_id="critics",
        attribution_span_id=span("inv-a-critics-said", "Critics said"),
        asserted_on_precision="unknown",
        asserted_on_basis="none",
        span_id=span("inv-c-too-costly", "Critics said the plan was too costly."),
    )
    rows["claims"].append(claim)
    for span_id, (start, end) in sorted(spans.items()):
        rows["spans"].append(
            {
                "span_id": span_id,
                "source_id": INVENTED_ID,
                "start": str(start),
                "end": str(end),
                "exact": text[start:end],
                "prefix": text[max(0, start - SPAN_WIDTH) : start],
                "suffix": text[end : end + SPAN_WIDTH],
            }
        )
    for name in package.schemas:
        if name == "vocabularies":
            continue
        header, _ = package.table(name)
        ordered = sorted(rows[name], key=TableSpec.from_schema(name, package.schemas[name]).order_key())
        package.put_table(name, header, [[row.get(h, "") for h in header] for row in ordered])
    descriptor = package.descriptor()
    descriptor["uslatam"] = {"coverage": True}
    package.put_descriptor(descriptor)
    package.licence_sources([INVENTED_ID], keep=False)  # its one source's terms, in place of the clean one's
    package.rehash()
    return package


# --- the cases -------------------------------------------------------------------------
# Each takes the clean package, breaks one thing, and returns the expected findings
# as (code, table, line, column); a case may also return validate() options.

Case = Callable[[Files], list]
CASES: dict[str, Case] = {}


def case(function: Case) -> Case:
    CASES[function.__name__.replace("_", "-")] = function
    return function


INVENTED_CASES: set[str] = set()


def invented_case(function: Case) -> Case:
    """A case made from the invented package (coverage on) instead of the clean subset."""
    INVENTED_CASES.add(function.__name__.replace("_", "-"))
    return case(function)


def _edit_text(p: Files, path: str, old: str, new: str) -> None:
    text = p.files[path].decode("utf-8")
    assert old in text, (path, old)
    p.files[path] = text.replace(old, new, 1).encode("utf-8")


# descriptor and schema lint
@case
def package_error(p):
    p.files["datapackage.json"] = b'{"name": "broken",\n'
    return [("package-error", None, 2, None)]


@case
def package_error_version(p):
    d = p.descriptor()
    d["version"] = "1.0"
    p.put_descriptor(d)
    text = p.files["CITATION.cff"].decode()
    p.files["CITATION.cff"] = re.sub(r"(?m)^version: .*$", "version: 1.0", text).encode()
    return [("package-error", None, None, "version")]


@case
def duplicate_json_key(p):
    _edit_text(
        p,
        "datapackage.json",
        '"name": "us-latam-security-facts",',
        '"name": "us-latam-security-facts",\n  "name": "another-name",',
    )
    return [("duplicate-json-key", None, None, None)]


@case
def unsafe_path(p):
    d = p.descriptor()
    p.resource(d, "source_authors")["path"] = "data/../../source_authors.csv"
    p.put_descriptor(d)
    del p.files["data/source_authors.csv"]  # else it would also be an undeclared file
    return [("unsafe-path", "source_authors", None, None)]


@case
def remote_path(p):
    d = p.descriptor()
    p.resource(d, "source_authors")["path"] = "http://169.254.169.254/latest/meta-data/source_authors.csv"
    p.put_descriptor(d)
    del p.files["data/source_authors.csv"]  # else it would also be an undeclared file
    return [("remote-path", "source_authors", None, None)]


@case
def remote_reference(p):
    d = p.descriptor()
    d["profile"] = "http://127.0.0.1:9/profile.json"
    p.put_descriptor(d)
    return [("remote-reference", None, None, "profile")]


@case
def not_a_regular_file(p):
    p.files["data/source_authors.csv/README.md"] = p.files.pop("data/source_authors.csv")
    return [("not-a-regular-file", "source_authors", None, None)]


@case
def undeclared_file(p):
    p.files["data/notes.csv"] = b"note\nnobody validates this\n"
    p.files["sources/draft.txt"] = b"a text no source row names\n"
    return [("undeclared-file", None, None, None), ("undeclared-file", None, None, None)]


@case
def missing_citation(p):
    del p.files["CITATION.cff"]
    return [("missing-citation", None, None, None)]


@case
def unsafe_pattern(p):
    schema = p.schemas["source_authors"]
    field = next(f for f in schema["fields"] if f["name"] == "name")
    field.setdefault("constraints", {})["pattern"] = "(?=[A-Z])(.+)\\1"  # lookahead and a backreference
    p.put_schema("source_authors", schema)
    return [("unsafe-pattern", "source_authors", None, "name")]


@case
def resource_error(p):
    d = p.descriptor()
    p.resource(d, "source_authors")["format"] = "xlsx"
    p.put_descriptor(d)
    return [("resource-error", "source_authors", None, None)]


@case
def schema_error(p):
    p.files["schemas/source_authors.json"] = b"[]\n"
    return [("schema-error", "source_authors", None, None)]


@case
def missing_file(p):
    del p.files["data/source_authors.csv"]
    return [("missing-file", "source_authors", None, None)]


@case
def misplaced_constraint(p):
    schema = p.schemas["source_authors"]
    field = next(f for f in schema["fields"] if f["name"] == "name")
    field["pattern"] = "[A-Z].*"
    p.put_schema("source_authors", schema)
    return [("misplaced-constraint", "source_authors", p.schema_line("source_authors", "name"), "name")]


@case
def field_primary_key(p):
    schema = p.schemas["source_authors"]
    next(f for f in schema["fields"] if f["name"] == "author_order")["primaryKey"] = True
    p.put_schema("source_authors", schema)
    return [("field-primary-key", "source_authors", p.schema_line("source_authors", "author_order"), "author_order")]


@case
def key_field_missing(p):
    schema = p.schemas["source_authors"]
    schema["foreignKeys"][0]["reference"]["fields"] = ["source_key"]
    p.put_schema("source_authors", schema)
    return [("key-field-missing", "source_authors", p.schema_line("source_authors", "source_id"), "source_id")]


@case
def missing_description(p):
    schema = p.schemas["source_authors"]
    del next(f for f in schema["fields"] if f["name"] == "name")["description"]
    p.put_schema("source_authors", schema)
    return [("missing-description", "source_authors", p.schema_line("source_authors", "name"), "name")]


@case
def missing_example(p):
    schema = p.schemas["source_authors"]
    del next(f for f in schema["fields"] if f["name"] == "name")["example"]
    p.put_schema("source_authors", schema)
    return [("missing-example", "source_authors", p.schema_line("source_authors", "name"), "name")]


@case
def non_snake_case_name(p):
    schema = p.schemas["source_authors"]
    next(f for f in schema["fields"] if f["name"] == "author_order")["name"] = "authorOrder"
    schema["primaryKey"] = ["source_id", "authorOrder"]
    p.put_schema("source_authors", schema)
    header, rows = p.table("source_authors")
    header[header.index("author_order")] = "authorOrder"
    p.put_table("source_authors", header, rows)
    return [("non-snake-case-name", "source_authors", p.schema_line("source_authors", "authorOrder"), "authorOrder")]


@case
def file_too_large(p):
    sizes = sorted((len(data), path) for path, data in p.files.items() if path.startswith("data/"))
    assert sizes[-1][0] > sizes[-2][0]
    table = sizes[-1][1][len("data/") : -len(".csv")]
    return [("file-too-large", table, None, None)], {"max_file_bytes": sizes[-1][0] - 1}


# structure
@case
def encoding_error(p):
    line = p.line("entities", "mexico")
    data = p.files["data/entities.csv"]
    p.files["data/entities.csv"] = data.replace(b"mexico,country,Mexico", b"mexico,country,Mexic\xff", 1)
    return [("encoding-error", "entities", line, None)]


@case
def byte_order_mark(p):
    p.files["data/source_authors.csv"] = b"\xef\xbb\xbf" + p.files["data/source_authors.csv"]
    return [("byte-order-mark", "source_authors", 1, None)]


@case
def line_ending_error(p):
    p.files["data/source_authors.csv"] = p.files["data/source_authors.csv"].replace(b"\n", b"\r\n")
    return [("line-ending-error", "source_authors", 1, None)]


@case
def csv_syntax_error(p):
    line = p.line("source_authors", ("insightcrime-2017-05-19-mexico-colombia-meetings", "2"))
    _edit_text(p, "data/source_authors.csv", ",Tristan Clavel,", ',"Tristan Clavel,')
    return [("csv-syntax-error", "source_authors", line, None)]


@case
def missing_final_newline(p):
    p.files["data/source_authors.csv"] = p.files["data/source_authors.csv"].rstrip(b"\n")
    return [("missing-final-newline", "source_authors", 3, None)]


@case
def blank_label(p):
    _edit_text(p, "data/source_authors.csv", "source_id,author_order,", "source_id,,")
    return [("blank-label", "source_authors", 1, "author_order")]


@case
def duplicate_label(p):
    _edit_text(p, "data/source_authors.csv", "source_id,author_order,", "source_id,source_id,")
    return [("duplicate-label", "source_authors", 1, "author_order")]


@case
def incorrect_label(p):
    _edit_text(p, "data/source_authors.csv", "source_id,author_order,", "source_id,order,")
    return [("incorrect-label", "source_authors", 1, "author_order")]


@case
def missing_label(p):
    header, rows = p.table("source_authors")
    p.put_table("source_authors", header[:-1], [r[:-1] for r in rows])
    return [("missing-label", "source_authors", 1, "basis")]


@case
def extra_label(p):
    header, rows = p.table("source_authors")
    p.put_table("source_authors", header + ["note"], [r + [""] for r in rows])
    return [("extra-label", "source_authors", 1, "note")]


@case
def extra_cell(p):
    header, rows = p.table("source_authors")
    rows[0].append("surplus")
    p.put_table("source_authors", header, rows)
    return [("extra-cell", "source_authors", 2, None)]


@case
def missing_cell(p):
    header, rows = p.table("source_authors")
    rows[1] = rows[1][:-1]
    p.put_table("source_authors", header, rows)
    return [("missing-cell", "source_authors", 3, "basis")]


@case
def blank_row(p):
    header, rows = p.table("source_authors")
    p.put_table("source_authors", header, [rows[0], ["", "", "", ""], rows[1]])
    return [("blank-row", "source_authors", 3, None)]


@case
def byte_count(p):
    d = p.descriptor()
    p.resource(d, "positions")["bytes"] += 1
    p.put_descriptor(d)
    return [("byte-count", "positions", None, None)]


@case
def hash_count(p):
    d = p.descriptor()
    p.resource(d, "positions")["hash"] = "sha256:" + "0" * 64
    p.put_descriptor(d)
    return [("hash-count", "positions", None, None)]


@case
def truncated_at_row_boundary(p):
    # A whole row cut off still parses: only the descriptor's bytes and hash catch it.
    data = p.files["data/source_authors.csv"]
    p.rehash()
    p.files["data/source_authors.csv"] = data[: data.rstrip(b"\n").rfind(b"\n") + 1]
    return [("hash-count", "source_authors", None, None)]  # one hand edit, one finding


@case
def cell_too_large(p):
    line = p.set_cell(
        "source_authors", ("insightcrime-2017-05-19-mexico-colombia-meetings", "1"), "name", "M" * 100_001
    )
    return [("cell-too-large", "source_authors", line, "name")]


@case
def too_many_columns(p):
    header, rows = p.table("source_authors")
    extra = [f"c{i}" for i in range(1001)]
    p.put_table("source_authors", header + extra, [r + [""] * len(extra) for r in rows])
    return [("too-many-columns", "source_authors", 1, None)]


# types, constraints, keys
STAT = "us-substance-use-disorder-government-assistance"
PART = "us-substance-use-disorder-government-assistance-opioid"
QUOTE = "tillerson-we-are-the-market"
DEAL = "2016-11-colombia-farc-peace-deal"
TILLERSON_OFFICE = "rex-tillerson-us-secretary-of-state-2017-05-18"
QUANTIFIER = "us-support-for-addiction-treatment-resources"
CLAIM = "administration-dedication-to-treating-drug-abuse-called-into-question"
INHERITING_EVENT = "2017-05-18-officials-recognize-need-to-tackle-drug-trade"


@case
def type_error(p):
    return [("type-error", "statistics", p.set_cell("statistics", STAT, "value", "2.8 million"), "value")]


@case
def constraint_error(p):
    return [("constraint-error", "quotes", p.set_cell("quotes", QUOTE, "quote_type", "fullx"), "quote_type")]


@case
def constraint_error_required(p):
    return [
        ("constraint-error", "quotes", p.set_cell("quotes", QUOTE, "attribution_span_id", ""), "attribution_span_id")
    ]


@case
def unique_error(p):
    header, rows = p.table("sources")
    twin = list(rows[0])
    twin[header.index("source_id")] = "other-source"
    twin[header.index("title_span_id")] = twin[header.index("reuse_terms_span_id")] = ""
    p.put_table("sources", header, rows + [twin])
    p.licence_sources(["other-source"])
    line = p.line("sources", "other-source")
    return [("unique-error", "sources", line, "text_path"), ("unique-error", "sources", line, "sha256")]


@case
def primary_key(p):
    header, rows = p.table("source_authors")
    p.put_table("source_authors", header, rows + [list(rows[-1])])  # a repeat, still in order
    return [("primary-key", "source_authors", 4, None)]


@case
def empty_primary_key(p):
    """Rows without a key: each one a finding (no key is not a repeat); a partial key can still repeat."""
    header, rows = p.table("source_authors")
    source, _, name, basis = rows[-1]
    extra = [["", "", name, basis], ["", "", name, basis], [source, "", name, basis], [source, "", name, basis]]
    p.put_table("source_authors", header, rows + extra)  # lines 4 to 7
    required = [("constraint-error", "source_authors", line, "author_order") for line in (4, 5, 6, 7)]
    required += [("constraint-error", "source_authors", line, "source_id") for line in (4, 5)]
    return required + [("primary-key", "source_authors", line, None) for line in (4, 5, 7)]


@case
def foreign_key(p):
    return [
        (
            "foreign-key",
            "quotes",
            p.set_cell("quotes", QUOTE, "speaker_occupancy_id", "no-such-office"),
            "speaker_occupancy_id",
        )
    ]


# evidence
@case
def source_text_missing(p):
    del p.files["sources/insightcrime-2017-05-19-mexico-colombia-meetings.txt"]
    return [("source-text-missing", "sources", 2, "text_path")]


@case
def source_hash_mismatch(p):
    path = "sources/insightcrime-2017-05-19-mexico-colombia-meetings.txt"
    p.files[path] = p.files[path].replace(b"Tillerson said", b"Tillerson says", 1)
    return [("source-hash-mismatch", "sources", 2, "sha256")]


@case
def source_size_mismatch(p):
    size = p.cell("sources", "insightcrime-2017-05-19-mexico-colombia-meetings", "bytes")
    line = p.set_cell("sources", "insightcrime-2017-05-19-mexico-colombia-meetings", "bytes", str(int(size) + 1))
    return [("source-size-mismatch", "sources", line, "bytes")]


@case
def span_out_of_range(p):
    return [("span-out-of-range", "spans", p.set_cell("spans", "ic-q-we-are-the-market", "end", "99999"), "end")]


@case
def span_mismatch(p):
    start = int(p.cell("spans", "ic-q-we-are-the-market", "start"))
    end = int(p.cell("spans", "ic-q-we-are-the-market", "end"))
    p.set_cell("spans", "ic-q-we-are-the-market", "start", str(start + 1))
    line = p.set_cell("spans", "ic-q-we-are-the-market", "end", str(end + 1))
    return [("span-mismatch", "spans", line, "exact")]


@case
def span_context_mismatch(p):
    prefix = p.cell("spans", "ic-q-we-are-the-market", "prefix")
    line = p.set_cell("spans", "ic-q-we-are-the-market", "prefix", prefix.replace("The United States", "The US"))
    return [("span-context-mismatch", "spans", line, "prefix")]


@case
def span_source_mismatch(p):
    text = 'Second source. "We are the market," he said.\n'
    p.files["sources/second-source.txt"] = text.encode()
    header, rows = p.table("sources")
    twin = dict(zip(header, rows[0]))
    twin.update(
        source_id="second-source",
        text_path="sources/second-source.txt",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        bytes=str(len(text.encode())),
        code_points=str(len(text)),
        title_span_id="",
        reuse_terms_span_id="",
    )
    p.put_table("sources", header, rows + [[twin[h] for h in header]])
    p.licence_sources(["second-source"])
    header, rows = p.table("spans")
    start = text.index("We are")
    end = start + len("We are the market,")
    rows.append(
        [
            "second-we-are-the-market",
            "second-source",
            str(start),
            str(end),
            text[start:end],
            text[max(0, start - SPAN_WIDTH) : start],
            text[end : end + SPAN_WIDTH],
        ]
    )
    p.put_table("spans", header, rows)
    return [
        (
            "span-source-mismatch",
            "quotes",
            p.set_cell("quotes", QUOTE, "span_id", "second-we-are-the-market"),
            "span_id",
        )
    ]


@case
def quote_outside_quotation_marks(p):
    return [
        (
            "quote-outside-quotation-marks",
            "quotes",
            p.set_cell("quotes", QUOTE, "span_id", "ic-a-tillerson-said"),
            "span_id",
        )
    ]


@case
def words_not_in_span(p):
    p.set_cell("statistics", STAT, "value", "2900000")
    return [
        ("words-not-in-span", "statistics", p.set_cell("statistics", STAT, "value_text", "2.9 million"), "value_text")
    ]


@case
def value_text_unparsed(p):
    # "million" occurs in the span, but is no numeral
    return [
        ("value-text-unparsed", "statistics", p.set_cell("statistics", STAT, "value_text", "million"), "value_text")
    ]


@case
def quantifier_as_number(p):
    # "most" stored as 50 percent: a quantifier is not a measurement
    line = p.set_cell("statistics", QUANTIFIER, "value", "50")
    return [
        ("conditional-constraint", "statistics", line, "value"),
        ("value-text-unparsed", "statistics", line, "value_text"),
    ]


@case
def value_outside_rounding(p):
    return [("value-outside-rounding", "statistics", p.set_cell("statistics", STAT, "value", "2900000"), "value")]


@case
def part_exceeds_whole(p):
    p.set_cell("statistics", PART, "parent_statistic_id", "")
    p.set_cell("statistics", PART, "relation_to_parent", "")
    p.set_cell("statistics", STAT, "parent_statistic_id", PART)
    return [
        ("part-exceeds-whole", "statistics", p.set_cell("statistics", STAT, "relation_to_parent", "subset_of"), "value")
    ]


@case
def part_unit_mismatch(p):
    return [("part-unit-mismatch", "statistics", p.set_cell("statistics", PART, "unit", "usd"), "unit")]


@case
def parent_relation_mismatch(p):
    return [
        (
            "parent-relation-mismatch",
            "statistics",
            p.set_cell("statistics", PART, "relation_to_parent", ""),
            "relation_to_parent",
        )
    ]


# consistency
@case
def entity_type_mismatch(p):
    return [
        (
            "entity-type-mismatch",
            "positions",
            p.set_cell("positions", "us-secretary-of-state", "jurisdiction_entity_id", "rex-tillerson"),
            "jurisdiction_entity_id",
        )
    ]


@case
def speaker_occupancy_mismatch(p):
    return [
        (
            "speaker-occupancy-mismatch",
            "quotes",
            p.set_cell("quotes", "videgaray-tackle-jointly", "speaker_occupancy_id", TILLERSON_OFFICE),
            "speaker_occupancy_id",
        )
    ]


@case
def invalid_date(p):
    p.set_cell("events", DEAL, "date_precision", "day")
    return [("invalid-date", "events", p.set_cell("events", DEAL, "date_start", "2016-11-31"), "date_start")]


@case
def date_precision_mismatch(p):
    return [("date-precision-mismatch", "events", p.set_cell("events", DEAL, "date_precision", "day"), "date_start")]


@case
def date_end_before_start(p):
    return [("date-end-before-start", "events", p.set_cell("events", DEAL, "date_end", "2016-10"), "date_end")]


@case
def date_after_publication(p):
    # said to hold as of publication, so a later date also contradicts its basis
    line = p.set_cell("trend_claims", "mexico-heroin-production-rising", "period", "2017-06-01")
    return [
        ("date-after-publication", "trend_claims", line, "period"),
        ("date-basis-mismatch", "trend_claims", line, "period"),
    ]


@case
def unknown_country_code(p):
    return [
        ("unknown-country-code", "entities", p.set_cell("entities", "mexico", "country_code", "MXX"), "country_code")
    ]


@case
def vocabulary_mismatch(p):
    header, rows = p.table("vocabularies")
    p.put_table("vocabularies", header, [r for r in rows if (r[0], r[1]) != ("quote_type", "term")])
    return [("vocabulary-mismatch", "quotes", None, "quote_type")]


# support
@case
def entity_not_mentioned(p):
    # the attribution span narrowed to the quoted words: they do not say who speaks
    return [
        (
            "entity-not-mentioned",
            "quotes",
            p.set_cell("quotes", QUOTE, "attribution_span_id", p.cell("quotes", QUOTE, "span_id")),
            "speaker_entity_id",
        )
    ]


@case
def mention_antecedent_mismatch(p):
    line = p.set_cell(
        "mentions", "rex-tillerson-he-added", "antecedent_mention_id", "donald-trump-trump-did-not-mention"
    )
    # "he added" no longer leads to Tillerson, so the quote it attributes names nobody the span mentions
    return [
        ("mention-antecedent-mismatch", "mentions", line, "antecedent_mention_id"),
        ("entity-not-mentioned", "quotes", p.line("quotes", "tillerson-we-must-own-this-problem"), "speaker_entity_id"),
    ]


@case
def id_date_mismatch(p):
    # the text says "A recent visit": an ID with a month says more than the row
    header, rows = p.table("events")
    twin = list(rows[p.row_index("events", "us-officials-visit-to-mexico")])
    twin[header.index("event_id")] = "us-officials-recent-visit-to-mexico-2017-05"
    p.put_sorted("events", header, rows + [twin])
    return [("id-date-mismatch", "events", p.line("events", twin[0]), "event_id")]


@case
def conditional_constraint(p):
    # basis as_of_publication with an empty date and precision unknown
    p.set_cell("claims", CLAIM, "asserted_on_precision", "unknown")
    return [("conditional-constraint", "claims", p.set_cell("claims", CLAIM, "asserted_on", ""), "asserted_on")]


@case
def date_basis_mismatch(p):
    # as of publication, but not the publication date
    return [("date-basis-mismatch", "claims", p.set_cell("claims", CLAIM, "asserted_on", "2017-05-18"), "asserted_on")]


@case
def date_basis_mismatch_inherited(p):
    # from_event, but the parent it now names has another date and precision
    line = p.set_cell("events", INHERITING_EVENT, "part_of_event_id", DEAL)
    return [("date-basis-mismatch", "events", line, "date_start")]


@case
def code_not_admitted(p):
    # a government body as the speaker of an event: role speaker admits persons and groups
    key = (DEAL, "santos-government", "signatory")
    line = p.line("event_participants", key)
    header, rows = p.table("event_participants")
    rows[p.row_index("event_participants", key)][header.index("role")] = "speaker"
    p.put_table("event_participants", header, rows)
    # the retraction whose replacement the row is follows it, so that only the role is wrong
    header, rows = p.table("retractions")
    for row in rows:
        if row[header.index("replacement_id")] == "|".join(key):
            row[header.index("replacement_id")] = "|".join((DEAL, "santos-government", "speaker"))
    p.put_table("retractions", header, rows)
    return [("code-not-admitted", "event_participants", line, "role")]


@case
def constraint_error_not_below(p):
    source = "insightcrime-2017-05-19-mexico-colombia-meetings"
    start = p.cell("sources", source, "body_start")
    return [("constraint-error", "sources", p.set_cell("sources", source, "body_end", str(int(start) - 1)), "body_end")]


@case
def foreign_key_named_table(p):
    relation = "encouraging-evaluates-tillerson-cash-flow"
    return [("foreign-key", "relations", p.set_cell("relations", relation, "object_id", "no-such-quote"), "object_id")]


@invented_case
def uncovered_text(p):
    # the invented article's last sentence loses its row: nothing cites it any more
    header, rows = p.table("claims")
    p.put_table("claims", header, [])
    return [("uncovered-text", "sources", 2, "body")]


@invented_case
def recording_in_progress(p):
    # a source still being recorded: its uncovered sentence is counted in one warning, not listed
    header, rows = p.table("claims")
    p.put_table("claims", header, [])
    p.set_cell("sources", INVENTED_ID, "recording", "in_progress")
    return [("recording-in-progress", "sources", 2, "recording")]


@case
def version_mismatch(p):
    text = p.files["CITATION.cff"].decode()
    at = text.index("\nversion: ") + 1
    end = text.index("\n", at)
    p.files["CITATION.cff"] = (text[:at] + "version: 9.9.9" + text[end:]).encode()
    line = text[:at].count("\n") + 1
    return [("version-mismatch", None, line, "version")]


@case
def interrupted_change(p):
    # a commit cut off before its journal: only a temporary file remains, which recover deletes
    p.files["data/.entities.csv.uslatam-tmp-0123abcd"] = p.files["data/entities.csv"]
    return [("interrupted-change", None, None, None)]


@case
def untrusted_journal(p):
    # a journal arriving with the package: it would move a file of its own onto a path outside
    moves = [{"path": "../outside.csv", "temporary": "data/.x.uslatam-tmp-0123abcd", "after": "0" * 64}]
    p.files[".uslatam/journal.json"] = json.dumps({"token": "0123abcd", "moves": moves}).encode()
    return [("untrusted-journal", None, None, None)]


@case
def removed_without_retraction(p):
    header, rows = p.table("source_authors")
    p.put_table("source_authors", header, rows[:1])
    return [("removed-without-retraction", "source_authors", None, None)], {"against": "clean"}


@case
def retracted_id_reused(p):
    header, rows = p.table("retractions")
    p.put_table("retractions", header, [["positions", "us-secretary-of-state", "2026-12-01", "test", ""]])
    return [("retracted-id-reused", "retractions", 2, "row_id")]


@case
def retraction_error(p):
    header, rows = p.table("retractions")
    p.put_table("retractions", header, [["positionz", "us-secretary-of-stat", "2026-12-01", "test", ""]])
    return [("retraction-error", "retractions", 2, "table_name")]


@case
def source_terms_unlicensed(p):
    d = p.descriptor()
    for licence in d["licenses"]:
        licence.pop("sourceIds", None)  # the package names no source's terms; its tables still do
    p.put_descriptor(d)
    line = p.line("sources", "insightcrime-2017-05-19-mexico-colombia-meetings")
    return [("source-terms-unlicensed", "sources", line, "reuse_terms")]


@case
def row_order(p):
    header, rows = p.table("entities")
    rows[0], rows[1] = rows[1], rows[0]
    p.put_table("entities", header, rows)
    return [("row-order", "entities", p.line("entities", rows[1][header.index("entity_id")]), "entity_id")]


# text hygiene
@case
def text_not_nfc(p):
    return [("text-not-nfc", "entities", p.set_cell("entities", "colombia", "name", "Colombia\u0301"), "name")]


@case
def invisible_character(p):
    return [("invisible-character", "entities", p.set_cell("entities", "mexico", "name", "Mex\u200bico"), "name")]


@case
def cell_whitespace(p):
    return [("cell-whitespace", "entities", p.set_cell("entities", "mexico", "name", "Mexico "), "name")]


@case
def invisible_character_bidi(p):
    return [
        ("invisible-character", "quotes", p.set_cell("quotes", QUOTE, "quote_type", "partial\u202e"), "quote_type"),
        ("constraint-error", "quotes", p.line("quotes", QUOTE), "quote_type"),
    ]


def write(package: Files, folder: Path, expected: list, options: dict | None = None) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for path, data in package.files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    meta = {"expected": sorted([list(e) for e in expected], key=str)}
    if options:
        meta["options"] = options
    (folder / "expected.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def build(target: Path) -> None:
    clean = clean_package()
    write(clean, target / "clean", [])
    invented = invented_package(clean)
    write(invented, target / "invented", [])
    for name, make in CASES.items():
        package = Files((invented if name in INVENTED_CASES else clean).files)
        result = make(package)
        expected, options = result if isinstance(result, tuple) else (result, None)
        integrity_case = name in ("byte-count", "hash-count", "truncated-at-row-boundary")
        if (
            not integrity_case
            and "datapackage.json" in package.files
            and name not in ("package-error", "duplicate-json-key")
        ):
            try:
                package.rehash()
            except (json.JSONDecodeError, KeyError):
                pass
        write(package, target / name, expected, options)


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES
    build(destination)
    print(f"wrote {len(CASES) + 2} fixture packages to {destination}")
