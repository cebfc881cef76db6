"""Coverage: the words of each source's body that no row cites and no exclusion covers.

A source's body is ``text[body_start:body_end]``. Its units (sentences, quotations,
numbers, dates, names: :mod:`uslatam.units`) are found by language rules alone. A unit
is covered by the spans that rows cite: any table's reference to a span, the spans table
itself apart. Spans cited only by tables that record names (``"coverage": "names"``:
mentions, entities) cover names but not sentences; a table whose schema declares
``"coverage": "excludes"`` lists passages deliberately not recorded.

The library returns a :class:`Coverage` and never prints; ``uslatam coverage`` renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .units import CITES, EXCLUDES, NAMES, Unit, uncovered


@dataclass
class SourceCoverage:
    source_id: str
    text_path: str
    body_start: int
    body_end: int
    units: dict[str, int] = field(default_factory=dict)  # kind -> units found in the body
    uncovered: list[Unit] = field(default_factory=list)


@dataclass
class Coverage:
    """The uncovered units of each source checked. ``complete`` when there are none."""

    sources: list[SourceCoverage] = field(default_factory=list)

    @property
    def uncovered(self) -> list[Unit]:
        return [unit for source in self.sources for unit in source.uncovered]

    @property
    def complete(self) -> bool:
        return not self.uncovered

    def to_dict(self) -> dict:
        return {
            "complete": self.complete,
            "sources": [
                {
                    "source_id": s.source_id,
                    "text_path": s.text_path,
                    "body_start": s.body_start,
                    "body_end": s.body_end,
                    "units": s.units,
                    "uncovered": [asdict(u) for u in s.uncovered],
                }
                for s in self.sources
            ],
        }


class CoverageError(ValueError):
    """The package cannot be read for coverage (the message says why)."""


# --- a package -------------------------------------------------------------------------

SOURCES, SPANS = "sources", "spans"


def span_roles(specs: dict) -> dict[str, list[tuple[str, str]]]:
    """Per coverage role, the (table, field) pairs that reference the spans table."""
    roles: dict[str, list[tuple[str, str]]] = {CITES: [], NAMES: [], EXCLUDES: []}
    for name, spec in specs.items():
        if name == SPANS:
            continue
        for key in spec.foreign_keys:
            if key.resource == SPANS and len(key.fields) == 1:
                roles.setdefault(spec.coverage, []).append((name, key.fields[0]))
    return roles


def coverage(path: str | Path | None = None, source_ids: Sequence[str] = ()) -> Coverage:
    """The uncovered units of every stored source (or of ``source_ids``) of the package at ``path``.

    Raises :class:`CoverageError` when the package cannot be read (run ``uslatam validate``).
    """
    import hashlib

    from .boundary import DEFAULT_LIMITS, Refused, decode, package_bytes
    from .loading import LoadError, load
    from .package import PackageError, find_root
    from .package import load as load_package
    from .paths import own_package
    from .schema import SchemaError, TableSpec

    try:
        root = find_root(path) if path is not None else own_package()
        tables = load(root)
        package, _ = load_package(root)
        specs = {r.name: TableSpec.from_schema(r.name, r.schema) for r in package.resources}
    except (LoadError, PackageError, SchemaError, KeyError, TypeError, OSError) as error:
        raise CoverageError(f"the package cannot be read: {_message(error)}; run uslatam validate") from None
    for needed, columns in (
        (SOURCES, ("source_id", "text_path", "sha256", "body_start", "body_end")),
        (SPANS, ("span_id", "source_id", "start", "end")),
    ):
        if needed not in tables or any(c not in tables[needed].columns for c in columns):
            raise CoverageError(f"the package has no table {needed} with columns {', '.join(columns)}")
    sources = tables[SOURCES]
    known = set(sources["source_id"].dropna().tolist())
    unknown = [s for s in source_ids if s not in known]
    if unknown:
        raise CoverageError(f"no source {', '.join(map(repr, unknown))}; sources: {', '.join(sorted(known))}")
    cited = cited_spans(tables, specs)
    result = Coverage()
    for row in sources.to_dict("records"):
        source_id = row["source_id"]
        if source_ids and source_id not in source_ids:
            continue
        try:
            raw = package_bytes(
                package.root,
                row["text_path"],
                what=f"text_path of source {source_id!r}",
                limit=DEFAULT_LIMITS.max_text_bytes,
                table=SOURCES,
                listed_in=f"data/{SOURCES}.csv",
            )
            text = decode(raw, name=row["text_path"], table=SOURCES)
        except Refused as refused:
            raise CoverageError(str(refused)) from None
        if hashlib.sha256(raw).hexdigest() != row["sha256"]:
            raise CoverageError(f"{row['text_path']} does not match its sha256; run uslatam validate")
        start, end = int(row["body_start"]), int(row["body_end"])
        if not 0 <= start <= end <= len(text):
            raise CoverageError(f"source {source_id!r}: body {start}..{end} is not inside its text")
        counts, missing = uncovered(source_id, text, start, end, cited.get(source_id, {}))
        result.sources.append(SourceCoverage(source_id, row["text_path"], start, end, counts, missing))
    return result


def cited_spans(tables: dict, specs: dict) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """source_id -> role -> (start, end) of every span some row cites in that role."""
    import pandas as pd

    spans = tables[SPANS][["span_id", "source_id", "start", "end"]].dropna()
    ids: dict[str, list] = {}
    for role, pairs in span_roles(specs).items():
        for table, column in pairs:
            if table in tables and column in tables[table].columns:
                ids.setdefault(role, []).append(tables[table][column].dropna())
    found: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for role, columns in ids.items():
        used = pd.concat(columns).astype("string").unique() if columns else []
        rows = spans[spans["span_id"].isin(list(used))]
        for source_id, start, end in zip(rows["source_id"], rows["start"], rows["end"]):
            found.setdefault(str(source_id), {}).setdefault(role, []).append((int(start), int(end)))
    return found


def _message(error: BaseException) -> str:
    if hasattr(error, "findings"):
        return "; ".join(f.message for f in error.findings)  # type: ignore[attr-defined]
    return str(error)
