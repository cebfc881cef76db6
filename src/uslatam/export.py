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


Writer = Callable[[dict, dict[str, TableSpec], dict, Path], list[Path]]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    write: Writer
    into: str  # "folder" or "file": what the destination is
    suffix: str  # the destination file's usual suffix ("" for a folder)
    summary: str  # what it writes, for help and docs
    follow_up: str = ""  # a next step once written; {0}, {1} ... are the files written


FORMATS: dict[str, ExportFormat] = {}


def exporter(
    name: str, summary: str, *, into: str, suffix: str = "", follow_up: str = ""
) -> Callable[[Writer], Writer]:
    """Register a writer of every table in one format."""

    def register(write: Writer) -> Writer:
        FORMATS[name] = ExportFormat(name, write, into, suffix, summary, follow_up)
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


def _context(path) -> tuple[dict, dict[str, TableSpec], dict]:
    root = _root(path)
    specs = _specs(root)  # raises LoadError if any table cannot be read safely
    descriptor = load_package(root)[0].descriptor
    frames = {name: _typed(spec, file) for name, (spec, file) in specs.items()}
    return descriptor, {name: spec for name, (spec, _) in specs.items()}, frames


def export(fmt: str, destination: str | Path, path: str | Path | None = None) -> list[Path]:
    """Export every table to ``destination``; return the files written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    descriptor, specs, frames = _context(path)
    destination = Path(destination)
    return FORMATS[fmt].write(descriptor, specs, frames, destination)


# --- Parquet ---------------------------------------------------------------------------


@exporter("parquet", "a folder of one Parquet file a table, with each field's description", into="folder")
def _parquet(descriptor, specs, frames, destination: Path) -> list[Path]:
    """A folder of <table>.parquet, field descriptions in each field's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in frames.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        fields = []
        for arrow_field in table.schema:
            spec = specs[name].field(arrow_field.name)
            fields.append(arrow_field.with_metadata({"description": spec.description, "type": spec.type}))
        metadata = {
            "table": name,
            "package": descriptor["name"],
            "version": descriptor["version"],
            "description": next(r.get("description", "") for r in descriptor["resources"] if r["name"] == name),
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


@exporter(
    "sqlite",
    "one SQLite database with keys and descriptions, and Datasette's metadata.json beside it",
    into="file",
    suffix=".db",
    follow_up="browse it: datasette {0} -m {1}",
)
def _sqlite(descriptor, specs, frames, destination: Path) -> list[Path]:
    """One database with primary and foreign keys, descriptions in _columns, and metadata.json."""
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
        connection.close()
    metadata_file = destination.parent / "metadata.json"
    write_atomic(
        metadata_file,
        (
            json.dumps(datasette_metadata(descriptor, specs, destination.stem), indent=2, ensure_ascii=False) + "\n"
        ).encode("utf-8"),
    )
    return [destination, metadata_file]


def datasette_metadata(descriptor: dict, specs: dict[str, TableSpec], database: str) -> dict:
    """Datasette's metadata: title, licence, source and every table's and column's description."""
    licence: dict = next((lic for lic in descriptor.get("licenses", []) if lic.get("name")), {})
    source = (descriptor.get("sources") or [{}])[0]
    resources = {r["name"]: r for r in descriptor["resources"]}
    return {
        "title": descriptor["title"],
        "description": descriptor["description"],
        "license": licence.get("name", ""),
        "license_url": licence.get("path", ""),
        "source": source.get("title", ""),
        "source_url": source.get("path", ""),
        "databases": {
            database: {
                "tables": {
                    name: {
                        "description": resources[name].get("description", ""),
                        "columns": {f.name: f.description for f in spec.fields},
                    }
                    for name, spec in specs.items()
                },
            },
        },
    }


# --- xlsx -----------------------------------------------------------------------------------


@exporter("xlsx", "one workbook: a sheet a table and a README sheet", into="file", suffix=".xlsx")
def _xlsx(descriptor, specs, frames, destination: Path) -> list[Path]:
    """One sheet per table and a README sheet; every string written as a string."""
    import xlsxwriter

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
            *[
                f"Licence: {lic.get('name') or ''} {lic.get('title', '')}".strip()
                for lic in descriptor.get("licenses", [])
            ],
            "",
            "Tables:",
        ]
        lines += [f"{r['name']}: {r.get('description', '')}" for r in descriptor["resources"]]
        lines += ["", "Columns:"]
        lines += [f"{name}.{f.name} ({f.type}): {f.description}" for name, spec in specs.items() for f in spec.fields]
        for number, line in enumerate(lines):
            readme.write_string(number, 0, line)
        for name, frame in frames.items():
            sheet = workbook.add_worksheet(name[:31])
            for position, field_name in enumerate(frame.columns):
                sheet.write_string(0, position, field_name)
            for row_number, record in enumerate(_records(frame), 1):
                for position, value in enumerate(record):
                    if value is None:
                        continue
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        sheet.write_number(row_number, position, value)
                    else:
                        sheet.write_string(row_number, position, str(value))
        workbook.close()
    return [destination]


# --- JSON -----------------------------------------------------------------------------------


@exporter("json", "one JSON file of the descriptor and every table's rows", into="file", suffix=".json")
def _json(descriptor, specs, frames, destination: Path) -> list[Path]:
    """The descriptor and, per table, its rows as records."""
    document = {
        "descriptor": descriptor,
        "tables": {name: [dict(zip(frame.columns, row)) for row in _records(frame)] for name, frame in frames.items()},
    }
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(destination, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return [destination]


__all__ = ["export", "exporter", "ExportError", "ExportFormat", "FORMATS", "datasette_metadata"]
