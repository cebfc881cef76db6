"""The W3C Web Annotation export: the model's required fields, one annotation a span, selectors that
re-anchor in the stored text, a body for every citing row, unique IRIs; all read back independently
of the exporter (the CSVs, schemas and stored texts are read here with the csv module)."""

from __future__ import annotations

import base64
import collections
import csv
import datetime
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from uslatam.export import FORMATS, export

from .conftest import ROOT, uslatam

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
# The context as w3.org serves it, kept locally: the tests never fetch (tests/reference/README.md).
LOCAL_CONTEXT = ROOT / "tests" / "reference" / "anno.jsonld"
MOTIVATIONS = {
    "assessing",
    "bookmarking",
    "classifying",
    "commenting",
    "describing",
    "editing",
    "highlighting",
    "identifying",
    "linking",
    "moderating",
    "questioning",
    "replying",
    "tagging",
}


def _descriptor(root: Path) -> dict:
    return json.loads((root / "datapackage.json").read_text(encoding="utf-8"))


def _rows(root: Path, table: str) -> list[dict[str, str]]:
    resource = next(r for r in _descriptor(root)["resources"] if r["name"] == table)
    with open(root / resource["path"], encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _schema(root: Path, table: str) -> dict:
    resource = next(r for r in _descriptor(root)["resources"] if r["name"] == table)
    return json.loads((root / resource["schema"]).read_text(encoding="utf-8"))


def _stored_text(root: Path, source: dict[str, str]) -> str:
    return (root / source["text_path"]).read_bytes().decode("utf-8")  # bytes: no newline translation


def _export(tmp_path: Path, package: Path | None = None) -> dict:
    destination = tmp_path / "out" / "facts.jsonld"
    assert export("annotations", destination, package) == [destination]
    return json.loads(destination.read_text(encoding="utf-8"))


def _items(document: dict) -> list[dict]:
    return document["first"]["items"]


def _span_id(annotation: dict) -> str:
    return annotation["id"].rsplit("/", 1)[1]


def _selectors(annotation: dict) -> dict[str, dict]:
    selectors = annotation["target"]["selector"]
    kinds = collections.Counter(s["type"] for s in selectors)
    assert kinds == {"TextQuoteSelector": 1, "TextPositionSelector": 1}, annotation["id"]
    return {s["type"]: s for s in selectors}


def _is_iri(value: object) -> bool:
    if not isinstance(value, str) or re.search(r"[\s<>\"{}|\\^`]", value):
        return False
    parts = urlsplit(value)
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", parts.scheme)) and bool(parts.netloc or parts.path)


def _date_time(value: object) -> datetime.datetime:
    assert isinstance(value, str) and "T" in value, value
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value  # the model: xsd:dateTime, with a timezone
    return parsed


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    return _export(tmp_path_factory.mktemp("annotations"))


def test_the_format_is_registered_as_a_jsonld_file() -> None:
    fmt = FORMATS["annotations"]
    assert (fmt.into, fmt.suffix) == ("file", ".jsonld")


def test_the_collection_has_the_models_required_fields(document: dict) -> None:
    descriptor = _descriptor(ROOT)
    assert document["@context"] == CONTEXT
    assert document["type"] == "AnnotationCollection" and _is_iri(document["id"])
    assert descriptor["title"] in document["label"] and descriptor["version"] in document["label"]
    page = document["first"]
    assert page["type"] == "AnnotationPage" and _is_iri(page["id"])
    assert page["partOf"] == document["id"] and page["startIndex"] == 0
    assert document["last"] == page["id"]  # one page holds every annotation
    assert "next" not in page
    assert document["total"] == len(page["items"]) == len(_rows(ROOT, "spans"))


def test_every_annotation_has_the_models_required_fields(document: dict) -> None:
    descriptor = _descriptor(ROOT)
    sources = {row["source_id"]: row for row in _rows(ROOT, "sources")}
    spans = {row["span_id"]: row for row in _rows(ROOT, "spans")}
    for annotation in _items(document):
        assert annotation.get("@context", CONTEXT) in (CONTEXT, [CONTEXT])  # inherited from the collection
        assert annotation["type"] == "Annotation" and _is_iri(annotation["id"])
        assert annotation["motivation"] in MOTIVATIONS
        assert _date_time(annotation["created"]) == _date_time(descriptor["created"])
        target = annotation["target"]
        assert isinstance(target, dict) and target["type"] == "SpecificResource"
        source = sources[spans[_span_id(annotation)]["source_id"]]
        assert target["source"] == source["url"]
        selectors = _selectors(annotation)
        quote = selectors["TextQuoteSelector"]
        assert isinstance(quote["exact"], str) and quote["exact"]
        assert all(isinstance(quote[key], str) for key in ("prefix", "suffix") if key in quote)
        position = selectors["TextPositionSelector"]
        for key in ("start", "end"):
            assert type(position[key]) is int and position[key] >= 0
        assert position["start"] <= position["end"]


def test_every_span_appears_exactly_once(document: dict) -> None:
    base = _descriptor(ROOT)["id"].rstrip("/")
    counted = collections.Counter(annotation["id"] for annotation in _items(document))
    assert counted == collections.Counter(f"{base}/annotations/{row['span_id']}" for row in _rows(ROOT, "spans"))


def test_the_order_is_the_spans_row_order(document: dict) -> None:
    shown = [_span_id(annotation) for annotation in _items(document)]
    rows = _rows(ROOT, "spans")
    assert shown == [r["span_id"] for r in sorted(rows, key=lambda r: (r["source_id"], int(r["start"]), int(r["end"])))]


def test_every_selector_re_anchors_in_the_stored_text(document: dict) -> None:
    sources = {row["source_id"]: row for row in _rows(ROOT, "sources")}
    spans = {row["span_id"]: row for row in _rows(ROOT, "spans")}
    texts = {source_id: _stored_text(ROOT, row) for source_id, row in sources.items()}
    for annotation in _items(document):
        text = texts[spans[_span_id(annotation)]["source_id"]]
        selectors = _selectors(annotation)
        quote, position = selectors["TextQuoteSelector"], selectors["TextPositionSelector"]
        start, end = position["start"], position["end"]
        assert end <= len(text) and text[start:end] == quote["exact"], annotation["id"]
        if "prefix" in quote:  # immediately before the words, inside the text
            prefix = quote["prefix"]
            assert start >= len(prefix) and text[start - len(prefix) : start] == prefix, annotation["id"]
        if "suffix" in quote:
            assert text[end : end + len(quote["suffix"])] == quote["suffix"], annotation["id"]


def test_the_state_names_the_stored_text_the_positions_count_in(document: dict) -> None:
    """Each target's TimeState caches the stored copy by its bytes' SHA-256 (RFC 6920), and dates it."""
    sources = {row["source_id"]: row for row in _rows(ROOT, "sources")}
    spans = {row["span_id"]: row for row in _rows(ROOT, "spans")}
    created = _date_time(_descriptor(ROOT)["created"])
    for annotation in _items(document):
        source = sources[spans[_span_id(annotation)]["source_id"]]
        digest = hashlib.sha256((ROOT / source["text_path"]).read_bytes()).digest()
        state = annotation["target"]["state"]
        assert state["type"] == "TimeState"
        assert state["cached"] == "ni:///sha-256;" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
        assert "sourceDate" not in state  # a range: the copy was captured between publication and creation
        start, end = _date_time(state["sourceDateStart"]), _date_time(state["sourceDateEnd"])
        assert start.date() == datetime.date.fromisoformat(source["published"]) and start <= end == created


def _expected_bodies(root: Path) -> dict[str, collections.Counter]:
    """span_id -> "table key (column)" of every row citing it, from the schemas' foreign keys and the CSVs."""
    expected: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    tables = 0
    for resource in _descriptor(root)["resources"]:
        schema = _schema(root, resource["name"])
        keys = schema.get("primaryKey") or []
        keys = [keys] if isinstance(keys, str) else keys
        columns = []
        for key in schema.get("foreignKeys") or []:
            fields = [key["fields"]] if isinstance(key["fields"], str) else key["fields"]
            if key["reference"].get("resource") == "spans" and len(fields) == 1:
                columns.append(fields[0])
        tables += bool(columns)
        for row in _rows(root, resource["name"]) if columns else []:
            for column in columns:
                if row[column]:
                    key = "/".join(row[k] for k in keys)
                    expected[row[column]][f"{resource['name']} {key} ({column})"] += 1
    assert tables >= 5, "the schemas should declare foreign keys into spans"
    return expected


def test_every_citing_row_is_a_body(document: dict) -> None:
    expected = _expected_bodies(ROOT)
    assert sum(map(len, expected.values())) > len(expected)  # some spans are cited more than once
    for annotation in _items(document):
        bodies = annotation.get("body", [])
        for body in bodies:
            assert body["type"] == "TextualBody" and body["purpose"] == "describing"
            assert body["format"] == "text/plain" and isinstance(body["value"], str)
        assert collections.Counter(b["value"] for b in bodies) == expected.get(_span_id(annotation), {})
        assert annotation["motivation"] == ("describing" if bodies else "highlighting")


def test_the_ids_are_unique_iris(document: dict) -> None:
    ids = [document["id"], document["first"]["id"], *(a["id"] for a in _items(document))]
    assert all(_is_iri(i) for i in ids), [i for i in ids if not _is_iri(i)]
    assert len(set(ids)) == len(ids)


def test_every_term_is_defined_by_the_context(document: dict) -> None:
    """A key or type the context does not define would vanish when a JSON-LD processor reads the file."""
    terms = set(json.loads(LOCAL_CONTEXT.read_text(encoding="utf-8"))["@context"])
    stack: list[object] = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            assert set(item) - {"@context"} <= terms, set(item) - terms
            for key in ("type", "motivation", "purpose"):
                if key in item:
                    assert item[key] in terms, item[key]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def test_it_expands_as_json_ld_with_a_local_context(document: dict) -> None:
    jsonld = pytest.importorskip("pyld.jsonld")
    from uslatam.boundary import offline

    context = json.loads(LOCAL_CONTEXT.read_text(encoding="utf-8"))

    def loader(url: str, options: dict | None = None) -> dict:
        assert url == CONTEXT, f"would fetch {url}"
        return {"contextUrl": None, "documentUrl": url, "document": context}

    with offline():  # a fetch would be refused, not made
        expanded = jsonld.expand(document, {"documentLoader": loader})
    oa = "http://www.w3.org/ns/oa#"
    (collection,) = expanded
    (page,) = collection["http://www.w3.org/ns/activitystreams#first"]
    (items,) = page["http://www.w3.org/ns/activitystreams#items"]
    annotations = items["@list"]
    assert len(annotations) == document["total"]
    for annotation in annotations:
        assert annotation["@type"] == [oa + "Annotation"]
        (target,) = annotation[oa + "hasTarget"]
        kinds = {selector["@type"][0] for selector in target[oa + "hasSelector"]}
        assert kinds == {oa + "TextQuoteSelector", oa + "TextPositionSelector"}
        (state,) = target[oa + "hasState"]
        assert state[oa + "cachedSource"][0]["@id"].startswith("ni:///sha-256;")


def test_a_span_no_row_cites_has_no_body(package_copy: Path, tmp_path: Path) -> None:
    spans = package_copy / "data" / "spans.csv"
    first = _rows(package_copy, "spans")[0]
    with open(spans, "a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(first), lineterminator="\n").writerow({**first, "span_id": "ic-uncited"})
    annotations = {_span_id(a): a for a in _items(_export(tmp_path, package_copy))}
    assert "body" not in annotations["ic-uncited"] and annotations["ic-uncited"]["motivation"] == "highlighting"
    assert annotations[first["span_id"]]["body"]


def test_without_a_package_iri_the_ids_are_stable_urns(package_copy: Path, tmp_path: Path) -> None:
    descriptor_file = package_copy / "datapackage.json"
    descriptor = _descriptor(package_copy)
    del descriptor["id"], descriptor["homepage"]
    descriptor_file.write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    document = _export(tmp_path / "a", package_copy)
    ids = [document["id"], document["first"]["id"], *(a["id"] for a in _items(document))]
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert _export(tmp_path / "b", package_copy) == document


def test_the_export_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonld", tmp_path / "b.jsonld"
    export("annotations", first)
    export("annotations", second)
    assert first.read_bytes() == second.read_bytes()


def test_the_command_writes_it(tmp_path: Path) -> None:
    destination = tmp_path / "facts.jsonld"
    result = uslatam("export", "--format", "annotations", str(destination))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {destination}"]
    assert json.loads(destination.read_text(encoding="utf-8"))["total"] == len(_rows(ROOT, "spans"))
