"""Exports of the typed tables: Parquet, SQLite (with a Datasette metadata file), xlsx and JSON.

Types and descriptions come from ``schemas/`` through the typed frames of
``uslatam.loading``. Every export is deterministic (same data, same bytes where the
format allows) and written atomically: built beside its destination, then moved in.
Each format is registered once (:func:`exporter`); the CLI's choices and its help,
and the tests' round trips, are read from :data:`FORMATS`.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .files import replacing, write_atomic
from .loading import _root, _specs, _typed
from .package import load as load_package
from .schema import TableSpec

EXCEL_CELL_LIMIT = 32_767
SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "number": "REAL", "boolean": "INTEGER", "date": "TEXT"}


class ExportError(ValueError):
    """The data cannot be exported as asked (the message names table, row and column)."""


@dataclass(frozen=True)
class ExportInput:
    """What every writer reads: the package root, its descriptor (schemas inline), table specs and typed frames."""

    root: Path
    descriptor: dict
    specs: dict[str, TableSpec]
    frames: dict

    def unpack(self) -> tuple[dict, dict[str, TableSpec], dict]:
        return self.descriptor, self.specs, self.frames


Writer = Callable[[ExportInput, Path], list[Path]]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    write: Writer
    into: str  # "folder" or "file": what the destination is
    suffix: str  # the destination file's usual suffix ("" for a folder)
    summary: str  # what it writes, for help and docs
    follow_up: str = ""  # a next step once written; {0}, {1} ... are the files written
    tables: bool = True  # it holds every table's rows (read back table by table); False: something else


FORMATS: dict[str, ExportFormat] = {}


def exporter(
    name: str, summary: str, *, into: str, suffix: str = "", follow_up: str = "", tables: bool = True
) -> Callable[[Writer], Writer]:
    """Register a writer of one format (of every table's rows unless ``tables=False``)."""

    def register(write: Writer) -> Writer:
        FORMATS[name] = ExportFormat(name, write, into, suffix, summary, follow_up, tables)
        return write

    return register


def _cell_text(value) -> object:
    """A cell as JSON/SQLite wants it: None for missing, ISO text for dates, plain numbers."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (pd.Timestamp, datetime.date)):
        return value.strftime("%Y-%m-%d")
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value) if abs(value) < 2**53 else value
    return value


def _records(frame) -> list[list]:
    return [[_cell_text(v) for v in row] for row in frame.astype(object).itertuples(index=False, name=None)]


def _context(path) -> ExportInput:
    """The descriptor (every resource's schema inline), the table specs and the typed frames."""
    root = _root(path)
    specs = _specs(root)  # raises LoadError if any table cannot be read safely
    package = load_package(root)[0]
    schemas = {r.name: r.schema for r in package.resources}
    resources = [{**r, "schema": schemas.get(r.get("name"), r.get("schema"))} for r in package.descriptor["resources"]]
    descriptor = {**package.descriptor, "resources": resources}
    frames = {name: _typed(spec, file) for name, (spec, file) in specs.items()}
    return ExportInput(root, descriptor, {name: spec for name, (spec, _) in specs.items()}, frames)


def export(fmt: str, destination: str | Path, path: str | Path | None = None) -> list[Path]:
    """Export every table to ``destination``; return the files written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    data = _context(path)
    return FORMATS[fmt].write(data, Path(destination))


# --- Parquet ---------------------------------------------------------------------------


@exporter("parquet", "a folder of one Parquet file a table, with each field's description", into="folder")
def _parquet(data: ExportInput, destination: Path) -> list[Path]:
    """A folder of <table>.parquet, field descriptions in each field's metadata."""
    descriptor, specs, frames = data.unpack()
    import pyarrow as pa
    import pyarrow.parquet as pq

    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in frames.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        fields = []
        for arrow_field in table.schema:
            spec = specs[name].field(arrow_field.name)
            if spec.type == "date":  # a calendar date, not an instant: readers get a date, not a timestamp
                arrow_field = arrow_field.with_type(pa.date32())
            fields.append(arrow_field.with_metadata({"description": spec.description, "type": spec.type}))
        metadata = {
            "table": name,
            "package": descriptor["name"],
            "version": descriptor["version"],
            "description": next(r.get("description", "") for r in descriptor["resources"] if r["name"] == name),
            "licenses": _licences_of(descriptor, [name]),
            "homepage": descriptor.get("homepage", ""),
        }
        schema = pa.schema(
            fields, metadata={**(table.schema.metadata or {}), b"uslatam": json.dumps(metadata).encode()}
        )
        table = table.cast(schema)
        with replacing(destination / f"{name}.parquet") as temporary:
            pq.write_table(table, temporary)
        written.append(destination / f"{name}.parquet")
    return written


# --- SQLite and Datasette ------------------------------------------------------------------


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_type(dtype) -> str:
    """The SQLite type of a view's pandas column."""
    kind = getattr(dtype, "kind", "O")
    return {"i": "INTEGER", "u": "INTEGER", "f": "REAL", "b": "INTEGER"}.get(kind, "TEXT")


def _full_text_index(connection: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> None:
    """An FTS5 index over ``columns`` of ``table`` (external content: Datasette finds it and searches it)."""
    listed = ", ".join(_quote(c) for c in columns)
    connection.execute(
        f"CREATE VIRTUAL TABLE {_quote(table + '_fts')} USING fts5({listed}, "
        f'content="{table}", content_rowid="rowid", tokenize="unicode61 remove_diacritics 2")'
    )
    connection.execute(f"INSERT INTO {_quote(table + '_fts')} ({_quote(table + '_fts')}) VALUES ('rebuild')")


def _views(frames: dict) -> dict[str, tuple[object, set[str]]]:
    """Every registered joined view over the exported tables, with the tables each reads."""
    from .loading import VIEWS, build_view

    return {name: build_view(name, frames) for name in VIEWS}


@exporter(
    "sqlite",
    "one SQLite database with keys, indexes, joined views, full-text search and descriptions, "
    "and Datasette's metadata.json beside it",
    into="file",
    suffix=".db",
    follow_up="browse it: datasette {0} -m {1}",
)
def _sqlite(data: ExportInput, destination: Path) -> list[Path]:
    """One database: the tables with their keys and indexes, the joined views as tables, FTS, descriptions."""
    descriptor, specs, frames = data.unpack()
    views = _views(frames)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with replacing(destination) as temporary:
        connection = sqlite3.connect(temporary)
        with connection:
            connection.execute("PRAGMA foreign_keys = OFF")
            for name, spec in specs.items():
                columns = [
                    f"{_quote(f.name)} {SQL_TYPES[f.type]}{' NOT NULL' if f.required else ''}" for f in spec.fields
                ]
                if spec.primary_key:
                    columns.append(f"PRIMARY KEY ({', '.join(_quote(k) for k in spec.primary_key)})")
                for key in spec.foreign_keys:
                    columns.append(
                        f"FOREIGN KEY ({', '.join(_quote(f) for f in key.fields)}) REFERENCES "
                        f"{_quote(key.resource)} ({', '.join(_quote(f) for f in key.reference_fields)})"
                    )
                connection.execute(f"CREATE TABLE {_quote(name)} ({', '.join(columns)})")
                marks = ", ".join("?" for _ in spec.fields)
                connection.executemany(f"INSERT INTO {_quote(name)} VALUES ({marks})", _records(frames[name]))
                # SQLite indexes no foreign key by itself: every join and facet on one would scan the table
                for key in spec.foreign_keys:
                    if key.fields == spec.primary_key[: len(key.fields)]:
                        continue  # the primary key's index already serves it
                    connection.execute(
                        f"CREATE INDEX {_quote('idx_' + name + '_' + '_'.join(key.fields))} ON {_quote(name)} "
                        f"({', '.join(_quote(f) for f in key.fields)})"
                    )
            for name, (frame, _) in views.items():
                frame = frame.reset_index(drop=True)  # type: ignore[attr-defined]
                columns = [f"{_quote(c)} {_sql_type(frame[c].dtype)}" for c in frame.columns]
                connection.execute(f"CREATE TABLE {_quote(name)} ({', '.join(columns)})")
                marks = ", ".join("?" for _ in frame.columns)
                connection.executemany(f"INSERT INTO {_quote(name)} VALUES ({marks})", _records(frame))
            connection.execute(
                "CREATE TABLE _columns (table_name TEXT, column_name TEXT, type TEXT, "
                "description TEXT, PRIMARY KEY (table_name, column_name))"
            )
            connection.executemany(
                "INSERT INTO _columns VALUES (?, ?, ?, ?)",
                [(name, f.name, f.type, f.description) for name, spec in specs.items() for f in spec.fields],
            )
            problems = connection.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise ExportError(f"foreign keys do not hold in the export: {problems[:3]}")
        connection.execute("VACUUM")
        # after VACUUM, which may renumber rowids: the external-content indexes are keyed by rowid
        with connection:
            for name, spec in specs.items():
                if spec.full_text:
                    _full_text_index(connection, name, spec.full_text)
            from .loading import VIEWS

            for name in views:
                if VIEWS[name].words:
                    _full_text_index(connection, name, VIEWS[name].words)
        connection.close()
    metadata_file = destination.parent / "metadata.json"
    metadata = datasette_metadata(descriptor, specs, destination.stem, {n: read for n, (_, read) in views.items()})
    write_atomic(metadata_file, (json.dumps(metadata, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return [destination, metadata_file]


def _licences_of(descriptor: dict, tables: set[str] | list[str]) -> list[dict]:
    """The licences of ``tables``: each resource's own, else the package's (as Data Package v2 inherits them)."""
    resources = {r["name"]: r for r in descriptor["resources"]}
    found: list[dict] = []
    for table in tables:
        for licence in resources.get(table, {}).get("licenses") or descriptor.get("licenses", []):
            if licence not in found:
                found.append(licence)
    return found


def _licence_fields(licences: list[dict]) -> dict:
    """Datasette's one licence line: every licence named (title where it has no name), a URL where one is."""
    if not licences:
        return {}
    text = "; ".join(lic.get("name") or lic.get("title") or lic.get("path", "") for lic in licences)
    urls = [lic["path"] for lic in licences if str(lic.get("path", "")).startswith(("https://", "http://"))]
    return {"license": text, **({"license_url": urls[0]} if len(licences) == 1 and urls else {})}


def datasette_metadata(
    descriptor: dict, specs: dict[str, TableSpec], database: str, views: dict[str, set[str]] | None = None
) -> dict:
    """Datasette's metadata: title, licences, sources, and every table's and view's description, labels and FTS."""
    from .loading import VIEWS

    resources = {r["name"]: r for r in descriptor["resources"]}
    sources = descriptor.get("sources") or []
    tables: dict[str, dict] = {}
    for name, spec in specs.items():
        table: dict = {
            "description": resources[name].get("description", ""),
            **_licence_fields(_licences_of(descriptor, [name])),
            "columns": {f.name: f.description for f in spec.fields},
        }
        if spec.label:
            table["label_column"] = spec.label
        if spec.full_text:
            table["fts_table"] = f"{name}_fts"
        tables[name] = table
    for name, read in (views or {}).items():
        described = f"{VIEWS[name].description} A view joining {', '.join(sorted(read))} (in Python: uslatam.{name}())."
        tables[name] = {"description": described, **_licence_fields(_licences_of(descriptor, sorted(read)))}
        if VIEWS[name].words:
            tables[name]["fts_table"] = f"{name}_fts"
    return {
        "title": descriptor["title"],
        "description": descriptor["description"],
        **_licence_fields(descriptor.get("licenses", [])),
        "source": "; ".join(s.get("title", "") for s in sources),
        **({"source_url": sources[0].get("path", "")} if len(sources) == 1 else {}),
        "databases": {database: {"tables": tables}},
    }


# --- xlsx -----------------------------------------------------------------------------------


@exporter("xlsx", "one workbook: a sheet a table and a README sheet", into="file", suffix=".xlsx")
def _xlsx(data: ExportInput, destination: Path) -> list[Path]:
    """One sheet per table and a README sheet; every string written as a string."""
    descriptor, specs, frames = data.unpack()
    import xlsxwriter

    from .cite import citation, to_apa

    for name, frame in frames.items():
        for column in frame.columns:
            if specs[name].field(column).type != "string":
                continue
            lengths = frame[column].astype("string").str.len()
            too_long = lengths[lengths > EXCEL_CELL_LIMIT]
            if len(too_long):
                row = int(too_long.index[0]) + 2
                raise ExportError(
                    f"{name} line {row}, column {column}: a cell of {int(too_long.iloc[0])} "
                    f"characters is over Excel's limit of {EXCEL_CELL_LIMIT}; it would be cut"
                )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with replacing(destination) as temporary:
        options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
        workbook = xlsxwriter.Workbook(temporary, options)
        created = datetime.datetime.fromisoformat(descriptor.get("created", "2000-01-01T00:00:00Z").replace("Z", ""))
        workbook.set_properties(
            {"title": descriptor["title"], "created": created, "comments": f"version {descriptor['version']}"}
        )
        readme = workbook.add_worksheet("README")
        lines = [
            descriptor["title"],
            f"Version {descriptor['version']}",
            descriptor["description"],
            "",
            "Cite as:",
            to_apa(citation(data.root).dataset),
            "",
            *[
                "Licence: " + " ".join(part for part in (lic.get("name"), lic.get("title")) if part)
                for lic in descriptor.get("licenses", [])
            ],
            "",
            "Tables:",
        ]
        lines += [f"{r['name']}: {r.get('description', '')}" for r in descriptor["resources"]]
        lines += ["", "Columns:"]
        lines += [f"{name}.{f.name} ({f.type}): {f.description}" for name, spec in specs.items() for f in spec.fields]
        bold = workbook.add_format({"bold": True})
        header = workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#EEEEEE"})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        readme.set_column(0, 0, 120)
        for number, line in enumerate(lines):
            readme.write_string(number, 0, line, bold if number == 0 or line.endswith(":") else None)
        for name, frame in frames.items():
            sheet = workbook.add_worksheet(name[:31])
            records = _records(frame)
            dates = {i for i, column in enumerate(frame.columns) if specs[name].field(column).type == "date"}
            for position, field_name in enumerate(frame.columns):
                sheet.write_string(0, position, field_name, header)
                # wide enough for the header and the usual cell, never wider than a screenful
                longest = max([len(field_name), *(len(str(r[position])) for r in records if r[position] is not None)])
                sheet.set_column(position, position, min(max(longest, 10 if position in dates else 6) + 2, 60))
            for row_number, record in enumerate(records, 1):
                for position, value in enumerate(record):
                    if value is None:
                        continue
                    if position in dates:  # a real date: sorts, filters and formats as one
                        sheet.write_datetime(row_number, position, datetime.datetime.fromisoformat(str(value)), day)
                    elif isinstance(value, (int, float)) and not isinstance(value, bool):
                        sheet.write_number(row_number, position, value)
                    else:
                        sheet.write_string(row_number, position, str(value))
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, max(len(records), 1), len(frame.columns) - 1)
        workbook.close()
    return [destination]


# --- JSON -----------------------------------------------------------------------------------


# Properties of a resource that describe its CSV file: an inline resource has no file.
FILE_PROPERTIES = ("path", "bytes", "hash", "format", "mediatype", "encoding", "dialect")


@exporter(
    "json",
    "one Data Package (datapackage.json) with every table's rows inline, readable by frictionless",
    into="file",
    suffix=".json",
    follow_up="check it: frictionless validate {0}",
)
def _json(data: ExportInput, destination: Path) -> list[Path]:
    """The descriptor with each resource's schema and rows inline (``data``), and no file properties."""
    descriptor, specs, frames = data.unpack()
    resources = []
    for resource in descriptor["resources"]:
        frame = frames[resource["name"]]
        inline = {key: value for key, value in resource.items() if key not in FILE_PROPERTIES}
        inline["data"] = [dict(zip(frame.columns, row)) for row in _records(frame)]
        resources.append(inline)
    document = {**descriptor, "resources": resources}
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(destination, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return [destination]


__all__ = ["export", "exporter", "ExportError", "ExportFormat", "ExportInput", "FORMATS", "datasette_metadata"]
from . import webannotation  # noqa: E402,F401  registers the annotations format
