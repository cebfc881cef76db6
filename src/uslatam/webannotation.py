"""The evidence spans as a W3C Web Annotation collection (JSON-LD).

Each span is one ``Annotation`` whose target is the source's URL, selected by a
``TextQuoteSelector`` and a ``TextPositionSelector``; its bodies name the rows that
cite it, found from every schema's foreign keys into ``spans``. The positions count
code points of the package's stored text, not of the live page: each target's
``TimeState`` says so (see :func:`_target`). One ``AnnotationPage`` holds every
annotation (a package has hundreds of spans, not millions).

See https://www.w3.org/TR/annotation-model/ and https://www.w3.org/TR/annotation-vocab/.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

from .export import ExportError, _cell_text, _records, exporter
from .files import write_atomic
from .schema import TableSpec

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
SPANS = "spans"


def _base(descriptor: dict) -> str | None:
    """The package's http(s) IRI (``id``, else ``homepage``) that annotation IRIs extend, or None."""
    for key in ("id", "homepage"):
        value = descriptor.get(key)
        if isinstance(value, str):
            parts = urlsplit(value)
            # A query or fragment would swallow the path appended to it.
            if parts.scheme in ("http", "https") and parts.netloc and not parts.query and not parts.fragment:
                return value.rstrip("/")
    return None


def _iri(descriptor: dict, *path: str) -> str:
    """An IRI under the package's base; a name-based urn:uuid (registered, stable) when it has none."""
    base = _base(descriptor)
    if base is not None:
        return "/".join([base, "annotations", *(quote(part, safe="") for part in path)])
    name = f"uslatam:{descriptor.get('name', '')}:annotations:{'/'.join(path)}"
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def _ni(sha256_hex: str, source_id: str) -> str:
    """RFC 6920 name of the stored text's bytes: names exactly the copy the positions count in."""
    try:
        digest = bytes.fromhex(sha256_hex)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise ExportError(f"sources {source_id}, column sha256: {sha256_hex!r} is not a SHA-256; run uslatam validate")
    return "ni:///sha-256;" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _state(source: dict, created: str | None) -> dict:
    """Which representation the selectors apply to: the stored copy, captured after publication.

    A TimeState is the model's way to name the representation (``cached``) a target's
    selectors were made on; a label alone binds nothing, and refinedBy or scope would
    change what is selected. The model requires a date: the copy was taken between the
    publication and the package's creation, so that range is given, nothing more precise.
    """
    published = _cell_text(source["published"])
    state: dict = {"type": "TimeState", "cached": _ni(source["sha256"], source["source_id"])}
    if published and created:
        state["sourceDateStart"] = f"{published}T00:00:00Z"
        state["sourceDateEnd"] = created
    elif published:
        state["sourceDate"] = f"{published}T00:00:00Z"
    elif created:
        state["sourceDate"] = created
    return state


def _target(span: dict, source: dict, created: str | None) -> dict:
    quote_selector = {"type": "TextQuoteSelector", "exact": span["exact"]}
    for key in ("prefix", "suffix"):
        if span[key] is not None:  # missing at the very start or end of the text
            quote_selector[key] = span[key]
    return {
        "type": "SpecificResource",
        "source": source["url"],
        "state": _state(source, created),
        "selector": [
            quote_selector,
            {"type": "TextPositionSelector", "start": span["start"], "end": span["end"]},
        ],
    }


def citations(specs: dict[str, TableSpec], frames: dict) -> dict[str, list[str]]:
    """span_id -> "table key (column)" of every row citing it, in table, column and row order."""
    cited: dict[str, list[str]] = {}
    for name, spec in specs.items():
        columns = spec.references(SPANS)
        if not columns:
            continue
        keys = list(spec.primary_key) or spec.field_names
        rows = _rows(frames[name])
        for column in columns:
            for row in rows:
                span_id = row[column]
                if span_id is not None:
                    key = "/".join(str(row[k]) for k in keys)
                    cited.setdefault(span_id, []).append(f"{name} {key} ({column})")
    return cited


def collection(descriptor: dict, specs: dict[str, TableSpec], frames: dict) -> dict:
    """The AnnotationCollection of every span, as a JSON-LD document."""
    if SPANS not in frames:
        raise ExportError(f"the package has no {SPANS} table to annotate")
    spans_spec = specs[SPANS]
    source_table = next((k.resource for k in spans_spec.foreign_keys if k.fields == ("source_id",)), None)
    if source_table is None or source_table not in frames:
        raise ExportError(f"{SPANS}.source_id references no sources table")
    sources = {row["source_id"]: row for row in _rows(frames[source_table])}
    created = descriptor.get("created") if isinstance(descriptor.get("created"), str) else None
    cited = citations(specs, frames)
    order = list(spans_spec.order) or list(spans_spec.primary_key)
    items = []
    for span in _rows(frames[SPANS].sort_values(order, kind="stable")):
        source = sources.get(span["source_id"])
        if source is None:
            raise ExportError(f"{SPANS} {span['span_id']}: no source {span['source_id']!r}; run uslatam validate")
        bodies = [
            {"type": "TextualBody", "purpose": "describing", "value": text, "format": "text/plain", "language": "en"}
            for text in cited.get(span["span_id"], [])
        ]
        annotation: dict = {
            "id": _iri(descriptor, span["span_id"]),
            "type": "Annotation",
            # The bodies describe the passage: which rows it is the evidence of. A span no row
            # cites has no body, and the model's motivation for a bare marked passage is highlighting.
            "motivation": "describing" if bodies else "highlighting",
            "target": _target(span, source, created),
        }
        if created:
            annotation["created"] = created
        if bodies:
            annotation["body"] = bodies
        items.append(annotation)
    collection_id = _iri(descriptor)
    page_id = _iri(descriptor, "page", "1")  # span IDs hold no "/", so no annotation IRI can equal it
    label = (
        f"{descriptor.get('title', descriptor.get('name', ''))} {descriptor.get('version', '')}: evidence spans. "
        "Positions count Unicode code points of each source's stored text (each target's cached copy), "
        "not of the live page."
    )
    return {
        "@context": CONTEXT,
        "id": collection_id,
        "type": "AnnotationCollection",
        "label": label,
        "total": len(items),
        "first": {"id": page_id, "type": "AnnotationPage", "partOf": collection_id, "startIndex": 0, "items": items},
        "last": page_id,
    }


def _rows(frame) -> list[dict]:
    return [dict(zip(frame.columns, row)) for row in _records(frame)]


@exporter(
    "annotations",
    "one W3C Web Annotation collection in JSON-LD: an annotation a span, its bodies naming the rows that cite it",
    into="file",
    suffix=".jsonld",
    tables=False,  # spans and who cites them, not the tables' rows: tests/test_annotations.py reads it back
)
def _annotations(data, destination: Path) -> list[Path]:
    document = collection(*data.unpack())
    destination.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    write_atomic(destination, data.encode("utf-8"))
    return [destination]


__all__ = ["collection", "citations", "CONTEXT"]
