"""Loading the tables as typed pandas DataFrames, derived from ``schemas/``.

Integers are nullable ``Int64``, numbers ``Float64``, dates ``datetime64[s]``, text
``string``, and every field with an ``enum`` a categorical whose categories are the
vocabulary in its order. Missing values are exactly the schema's ``missingValues``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .boundary import DEFAULT_LIMITS, read_bytes  # Refused goes up: a file load() found is gone
from .package import PackageError, find_root, load_readable
from .paths import own_package
from .schema import SchemaError, TableSpec, parse_column


class LoadError(ValueError):
    """A table cannot be loaded as typed: it is not valid (run uslatam validate)."""


def _root(path) -> Path:
    return find_root(path) if path is not None else own_package()


def _specs(root: Path) -> dict[str, tuple[TableSpec, Path]]:
    try:
        package = load_readable(root)
    except PackageError as error:
        raise LoadError(str(error)) from None
    try:
        return {r.name: (TableSpec.from_schema(r.name, r.schema), r.file) for r in package.resources}
    except SchemaError as error:
        raise LoadError(f"a schema cannot be used ({error}); run uslatam validate") from None


def _typed(spec: TableSpec, file: Path):
    import io

    import pandas as pd

    try:
        data = read_bytes(file, name=str(file), limit=DEFAULT_LIMITS.max_file_bytes)
        text = pd.read_csv(io.BytesIO(data), dtype="string", keep_default_na=False, na_filter=False, encoding="utf-8")
    except (UnicodeDecodeError, ValueError) as error:  # pandas' ParserError is a ValueError
        raise LoadError(f"{file}: cannot be read as a UTF-8 CSV ({error}); run uslatam validate") from None
    missing_columns = [name for name in spec.field_names if name not in text.columns]
    if missing_columns:
        raise LoadError(f"{file}: missing columns {missing_columns}")
    columns = {}
    for field in spec.fields:
        parsed = parse_column(text[field.name], field, spec.missing_values)
        if parsed.bad.any():
            line = int(parsed.bad.to_numpy().nonzero()[0][0]) + 2
            raise LoadError(f"{file}: {field.name} is not of type {field.type} near line {line}; run uslatam validate")
        values = parsed.values
        if field.enum is not None:
            values = pd.Series(
                pd.Categorical(values.astype(object).where(values.notna(), None), categories=list(field.enum)),
                index=values.index,
            )
        columns[field.name] = values
    return pd.DataFrame(columns)


def load_table(name: str, path: str | Path | None = None):
    """One table as a typed DataFrame (from this version's data, or the package at ``path``)."""
    specs = _specs(_root(path))
    if name not in specs:
        raise LoadError(f"no table {name!r}; tables: {', '.join(specs)}")
    return _typed(*specs[name])


def table_spec(name: str, path: str | Path | None = None) -> TableSpec:
    """The schema of table ``name`` (of this version's data, or the package at ``path``)."""
    specs = _specs(_root(path))
    if name not in specs:
        raise LoadError(f"no table {name!r}; tables: {', '.join(specs)}")
    return specs[name][0]


def source_text(source_id: str, path: str | Path | None = None) -> str:
    """The stored text of a source, from its row's ``text_path`` (which must stay inside the package)."""
    from .package import check_path

    root = _root(path)
    sources = load_table("sources", root)
    row = sources[sources["source_id"] == source_id]
    if row.empty:
        raise LoadError(f"no source {source_id!r}; sources: {', '.join(sources['source_id'])}")
    text_path = row["text_path"].iloc[0]
    problem = check_path(root, text_path, what=f"text_path of source {source_id!r}")
    if problem:
        raise LoadError(problem.message)
    from .boundary import Refused, package_text

    try:
        return package_text(
            root, text_path, what=f"text_path of source {source_id!r}", limit=DEFAULT_LIMITS.max_text_bytes
        )
    except Refused as refused:
        raise LoadError(f"cannot read the stored text {text_path}: {refused}") from None


def load(path: str | Path | None = None) -> dict:
    """Every table as a typed DataFrame, by table name."""
    return {name: _typed(spec, file) for name, (spec, file) in _specs(_root(path)).items()}


# --- joined views for the common questions --------------------------------------------


@dataclass(frozen=True)
class View:
    """A joined view: its builder, and which of its columns are evidence words (full-text indexed in exports)."""

    name: str
    build: Callable[..., Any]
    words: tuple[str, ...]  # columns holding a span's exact words
    description: str


VIEWS: dict[str, View] = {}


def view(*, words: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a joined view; exports (the SQLite database for Datasette) carry every registered view."""

    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        description = (build.__doc__ or "").strip().splitlines()[0]
        VIEWS[build.__name__] = View(build.__name__, build, words, description)
        return build

    return register


class _ReadRecorder(dict):
    """The tables, recording which ones a view reads (an export gives a view the licences of what it shows)."""

    def __init__(self, tables: dict) -> None:
        super().__init__(tables)
        self.read: set[str] = set()

    def __getitem__(self, name: str):
        self.read.add(name)
        return super().__getitem__(name)


def build_view(name: str, tables: dict) -> tuple[Any, set[str]]:
    """The view ``name`` over ``tables``, and the names of the tables it read."""
    recorder = _ReadRecorder(tables)
    frame = VIEWS[name].build(recorder)
    missing = [column for column in VIEWS[name].words if column not in frame.columns]
    if missing:
        raise LoadError(f"view {name} declares words columns {missing} that it does not have")
    return frame, recorder.read


@view(words=("words", "attribution"))
def quotes_view(tables: dict | None = None):
    """Each quote with its words, speaker, the office the text gives, and the event."""
    t = tables or load()
    spans = t["spans"].set_index("span_id")
    view = t["quotes"].join(spans["exact"].rename("words"), on="span_id")
    view = view.join(spans["exact"].rename("attribution"), on="attribution_span_id")
    view = view.join(t["entities"].set_index("entity_id")["name"].rename("speaker"), on="speaker_entity_id")
    offices = t["occupancies"].set_index("occupancy_id")["role_as_stated"].rename("office_as_stated")
    view = view.join(offices, on="speaker_occupancy_id")
    events = t["events"].set_index("event_id")[["event_type", "date_start", "summary"]]
    view = view.join(events.add_prefix("event_"), on="event_id")
    return view[
        [
            "quote_id",
            "speaker",
            "office_as_stated",
            "quote_type",
            "words",
            "attribution",
            "event_id",
            "event_event_type",
            "event_date_start",
            "event_summary",
            "repeats_quote_id",
        ]
    ].rename(columns={"event_event_type": "event_type"})


@view(words=())
def events_view(tables: dict | None = None):
    """Each event with one row per participant (events without participants keep one row)."""
    t = tables or load()
    participants = t["event_participants"].join(
        t["entities"].set_index("entity_id")["name"].rename("participant"), on="entity_id"
    )
    participants = participants.join(
        t["entities"].set_index("entity_id")["name"].rename("acting_for"), on="acting_for_entity_id"
    )
    view = t["events"].merge(
        participants[["event_id", "entity_id", "participant", "role", "acting_for"]], on="event_id", how="left"
    )
    return view[
        [
            "event_id",
            "event_type",
            "status",
            "polarity",
            "object_as_written",
            "date_start",
            "date_precision",
            "place_as_written",
            "part_of_event_id",
            "summary",
            "entity_id",
            "participant",
            "role",
            "acting_for",
        ]
    ]


@view(words=("evidence", "attribution"))
def statistics_view(tables: dict | None = None):
    """Each statistic with its words in context, who asserts it, and its parent statistic."""
    t = tables or load()
    stats = t["statistics"]
    view = stats.join(t["spans"].set_index("span_id")["exact"].rename("evidence"), on="span_id")
    view = view.join(t["entities"].set_index("entity_id")["name"].rename("asserted_by"), on="asserted_by_entity_id")
    view = view.join(t["spans"].set_index("span_id")["exact"].rename("attribution"), on="attribution_span_id")
    parents = stats.set_index("statistic_id")[["measure", "value"]].add_prefix("parent_")
    view = view.join(parents, on="parent_statistic_id")
    return view[
        [
            "statistic_id",
            "measure",
            "value",
            "value_text",
            "value_kind",
            "unit",
            "qualifier",
            "reference_period",
            "voice",
            "asserted_by",
            "attribution",
            "relation_to_parent",
            "parent_statistic_id",
            "parent_measure",
            "parent_value",
            "evidence",
        ]
    ]


@view(words=("attribution", "words"))
def claims_view(tables: dict | None = None):
    """Each claim with its words, who makes it (the source's own voice when nobody) and the attribution's words."""
    t = tables or load()
    words = t["spans"].set_index("span_id")["exact"]
    view = t["claims"].join(words.rename("words"), on="span_id")
    view = view.join(words.rename("attribution"), on="attribution_span_id")
    view = view.join(t["entities"].set_index("entity_id")["name"].rename("asserted_by"), on="asserted_by_entity_id")
    return view[
        [
            "claim_id",
            "claim_type",
            "summary",
            "polarity",
            "certainty",
            "aspiration",
            "voice",
            "asserted_by",
            "attribution",
            "event_id",
            "asserted_on",
            "words",
        ]
    ]
