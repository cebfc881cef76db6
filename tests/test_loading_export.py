"""Typed loading, the joined views, the wheel's bundled data, and every export round trip."""

from __future__ import annotations

import datetime
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

import uslatam
from uslatam.export import FORMATS, ExportError, export
from uslatam.loading import load

from .conftest import ROOT, record

TABLES = [r["name"] for r in json.loads((ROOT / "datapackage.json").read_text())["resources"]]


def test_the_dtypes_researchers_receive() -> None:
    tables = load()
    quotes, spans, sources, stats = tables["quotes"], tables["spans"], tables["sources"], tables["statistics"]
    assert str(quotes["quote_id"].dtype) == "string"
    assert isinstance(quotes["quote_type"].dtype, pd.CategoricalDtype)
    assert list(quotes["quote_type"].cat.categories) == ["full", "partial", "term", "pull_quote"]
    assert str(spans["start"].dtype) == "Int64" and str(stats["value"].dtype) == "Float64"
    assert str(sources["published"].dtype) == "datetime64[s]"
    assert str(tables["events"]["date_start"].dtype) == "string"  # ISO prefixes of varying precision
    assert tables["events"]["date_end"].isna().all()  # empty cells are missing, not ""
    assert list(tables["vocabularies"].columns) == ["vocabulary", "code", "label", "definition", "admits"]


def test_load_table_and_an_explicit_path(package_copy: Path) -> None:
    assert uslatam.load_table("entities", package_copy).equals(uslatam.load_table("entities"))
    with pytest.raises(ValueError, match="no table"):
        uslatam.load_table("entity")


def test_joined_views_answer_the_common_questions() -> None:
    tables = load()
    quotes = uslatam.quotes_view(tables)
    market = quotes.set_index("quote_id").loc["tillerson-we-are-the-market"]
    assert market["speaker"] == "Rex Tillerson"
    assert pd.isna(market["office_as_stated"])  # "Tillerson said" names no office: the quote claims none
    assert market["words"].startswith("must also confront the reality")
    events = uslatam.events_view(tables)
    meeting = events[events["event_id"] == "2017-05-18-us-mexico-security-meeting"]
    assert set(meeting["participant"]) == {
        "Rex Tillerson",
        "John Kelly",
        "Luis Videgaray Caso",
        "Miguel Ángel Osorio Chong",
    }
    stats = uslatam.statistics_view(tables).set_index("statistic_id")
    assert stats.loc["us-substance-use-disorder-government-assistance-opioid", "parent_value"] == 2_800_000


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as canonical text, to compare exports whatever the reader's types."""

    def cell(value):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if isinstance(value, (pd.Timestamp, datetime.date)):
            return value.strftime("%Y-%m-%d")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return frame.astype(object).map(cell).reset_index(drop=True)


def _read_parquet(destination: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(destination / f"{table}.parquet")


def _read_sqlite(destination: Path, table: str) -> pd.DataFrame:
    with sqlite3.connect(destination) as connection:
        return pd.read_sql(f'SELECT * FROM "{table}"', connection)


def _read_xlsx(destination: Path, table: str) -> pd.DataFrame:
    return pd.read_excel(destination, sheet_name=table, dtype=object, keep_default_na=False, na_values=[])


def _read_json(destination: Path, table: str) -> pd.DataFrame:
    """The inline rows of a Data Package, as frictionless reads them."""
    from frictionless import Package

    return Package(str(destination)).get_resource(table).to_pandas().reset_index()


# Each export format read back with the tool its users read it with.
READERS = {"parquet": _read_parquet, "sqlite": _read_sqlite, "xlsx": _read_xlsx, "json": _read_json}


TABLE_FORMATS = {name for name, f in FORMATS.items() if f.tables}


def test_every_export_format_is_read_back_by_a_test() -> None:
    assert set(READERS) == TABLE_FORMATS, "add a reader for the new format to READERS"


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    paths = {name: folder / ("facts" + f.suffix if f.into == "file" else name) for name, f in FORMATS.items()}
    for fmt, destination in paths.items():
        export(fmt, destination)
    return paths


@pytest.mark.parametrize("table", TABLES)
def test_every_export_reads_back_equal(exports: dict[str, Path], table: str) -> None:
    source = _as_text(load()[table])
    for fmt, destination in exports.items():
        if fmt not in TABLE_FORMATS:
            continue  # not a table format: its own tests read it back
        read = _as_text(READERS[fmt](destination, table).reindex(columns=source.columns))
        pd.testing.assert_frame_equal(read, source, obj=f"{fmt} {table}")


def test_exports_are_deterministic(exports: dict[str, Path], tmp_path: Path) -> None:
    for fmt, destination in exports.items():
        again = tmp_path / destination.name
        export(fmt, again)
        if FORMATS[fmt].into == "folder":
            for file in destination.iterdir():
                assert (again / file.name).read_bytes() == file.read_bytes(), file.name
        else:
            assert again.read_bytes() == destination.read_bytes(), fmt


def test_parquet_carries_types_and_descriptions(exports: dict[str, Path]) -> None:
    import pyarrow.parquet as pq

    schema = pq.read_schema(exports["parquet"] / "spans.parquet")
    assert str(schema.field("start").type) == "int64"
    assert schema.field("exact").metadata[b"description"].startswith(b"The span's exact words")


def test_json_export_is_a_data_package_frictionless_validates(exports: dict[str, Path], monkeypatch) -> None:
    from frictionless import Package, system

    def no_network(*args, **kwargs):
        raise AssertionError("validating the export reached for the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with system.use_context(trusted=False):
        report = Package(str(exports["json"])).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    document = json.loads(exports["json"].read_text())
    assert [r["name"] for r in document["resources"]] == TABLES
    assert all("path" not in r and isinstance(r["schema"], dict) for r in document["resources"])


def test_parquet_dates_are_dates_and_carry_licences(exports: dict[str, Path]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from uslatam.loading import table_spec

    descriptor = json.loads((ROOT / "datapackage.json").read_text())
    checked = 0
    for resource in descriptor["resources"]:
        schema = pq.read_schema(exports["parquet"] / f"{resource['name']}.parquet")
        for field in table_spec(resource["name"]).fields:
            if field.type == "date":
                assert schema.field(field.name).type == pa.date32(), (resource["name"], field.name)
                checked += 1
        metadata = json.loads(schema.metadata[b"uslatam"])
        assert metadata["version"] == descriptor["version"]
        assert metadata["licenses"] == (resource.get("licenses") or descriptor["licenses"])
    assert checked, "no date field was checked"


@pytest.mark.parametrize("reader", ["polars", "duckdb"])
def test_parquet_reads_back_equal_in_polars_and_duckdb(exports: dict[str, Path], reader: str) -> None:
    import duckdb
    import polars as pl

    from uslatam.loading import table_spec

    for table in TABLES:
        file = exports["parquet"] / f"{table}.parquet"
        dates = {f.name for f in table_spec(table).fields if f.type == "date"}
        if reader == "polars":
            frame = pl.read_parquet(file)
            assert {name for name, dtype in frame.schema.items() if dtype == pl.Date} == dates, table
            read = frame.to_pandas()
        else:
            connection = duckdb.connect()
            described = connection.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(file)]).fetchall()
            assert {row[0] for row in described if row[1] == "DATE"} == dates, table
            read = connection.execute("SELECT * FROM read_parquet(?)", [str(file)]).df()
        source = _as_text(load()[table])
        pd.testing.assert_frame_equal(_as_text(read[list(source.columns)]), source, obj=f"{reader} {table}")


def test_xlsx_has_a_frozen_bold_filtered_header_real_dates_and_a_citation(exports: dict[str, Path]) -> None:
    import openpyxl

    from uslatam.cite import citation, to_apa
    from uslatam.loading import table_spec

    workbook = openpyxl.load_workbook(exports["xlsx"])
    readme = [row[0] for row in workbook["README"].iter_rows(values_only=True)]
    assert to_apa(citation(ROOT).dataset) in readme
    for table in TABLES:
        sheet = workbook[table]
        assert sheet.freeze_panes == "A2", table
        assert all(cell.font.bold for cell in sheet[1]), table
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{max(sheet.max_row, 2)}"
        widths = {}  # a run of equal widths is one <col min max> element
        for dimension in sheet.column_dimensions.values():
            for column in range(dimension.min, dimension.max + 1):
                widths[column] = dimension.width
        assert all(widths.get(c.column, 0) >= len(c.value) for c in sheet[1]), (table, widths)
        for position, field in enumerate(table_spec(table).fields, 1):
            if field.type == "date":
                values = [r[0] for r in sheet.iter_rows(min_row=2, min_col=position, max_col=position)]
                assert values and all(c.value is None or c.is_date for c in values), (table, field.name)


def test_sqlite_declares_keys_and_descriptions(exports: dict[str, Path]) -> None:
    with sqlite3.connect(exports["sqlite"]) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        keys = connection.execute("PRAGMA foreign_key_list(quotes)").fetchall()
        assert {(k[2], k[3]) for k in keys} >= {("entities", "speaker_entity_id"), ("spans", "span_id")}
        description = connection.execute(
            "SELECT description FROM _columns WHERE table_name='quotes' AND column_name='quote_id'"
        ).fetchone()[0]
        assert description.startswith("Stable identifier of the quote")


def test_xlsx_writes_every_string_as_a_string(package_copy: Path, tmp_path: Path) -> None:
    entities = package_copy / "data" / "entities.csv"
    hostile = ['"=HYPERLINK(""http://example.org"",""x"")"', "#N/A", "+1", "@SUM(A1)", "-2"]
    text = entities.read_text(encoding="utf-8")
    for number, value in enumerate(hostile):
        text += f"hostile-{number},place,{value},,ic-title\n"
    entities.write_text(text, encoding="utf-8")
    destination = tmp_path / "out.xlsx"
    export("xlsx", destination, package_copy)
    import openpyxl

    sheet = openpyxl.load_workbook(destination)["entities"]
    values = {row[0].value: row[2] for row in sheet.iter_rows(min_row=2)}
    for number, value in enumerate(hostile):
        cell = values[f"hostile-{number}"]
        expected = value.strip('"').replace('""', '"')
        assert cell.data_type == "s" and cell.value == expected


def test_xlsx_refuses_a_cell_excel_would_cut(package_copy: Path, tmp_path: Path) -> None:
    entities = package_copy / "data" / "entities.csv"
    entities.write_text(
        entities.read_text(encoding="utf-8") + f"long,place,{'x' * 40_000},,ic-title\n", encoding="utf-8"
    )
    with pytest.raises(ExportError, match="over Excel's limit"):
        export("xlsx", tmp_path / "out.xlsx", package_copy)
    assert not (tmp_path / "out.xlsx").exists() and not list(tmp_path.glob(".*tmp"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_datasette_serves_the_export_with_column_descriptions(exports: dict[str, Path]) -> None:
    port = _free_port()
    database = exports["sqlite"]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(database),
            "-m",
            str(database.parent / "metadata.json"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/-/versions.json", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        rows = json.load(urllib.request.urlopen(f"{base}/facts/quotes.json?_shape=array&_size=max", timeout=5))
        assert len(rows) == len(load()["quotes"])
        metadata = json.load(urllib.request.urlopen(f"{base}/-/metadata.json", timeout=5))
        columns = metadata["databases"]["facts"]["tables"]["quotes"]["columns"]
        assert columns["quote_id"].startswith("Stable identifier of the quote")
    finally:
        server.terminate()
        server.wait(timeout=10)


def _ask_datasette(exports: dict[str, Path], *paths: str) -> list:
    """Datasette's answers (JSON) to ``paths``, from its own in-process client over the exported database."""
    import asyncio

    from datasette.app import Datasette

    database = exports["sqlite"]

    async def ask() -> list:
        datasette = Datasette([str(database)], metadata=json.loads((database.parent / "metadata.json").read_text()))
        await datasette.invoke_startup()
        answers = []
        for path in paths:
            response = await datasette.client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            answers.append(response.json())
        return answers

    return asyncio.run(ask())


def test_datasette_shows_each_quote_with_its_words_speaker_and_office(exports: dict[str, Path]) -> None:
    (rows,) = _ask_datasette(exports, f"/{exports['sqlite'].stem}/quotes_view.json?_shape=array&_size=max")
    tables = load()
    spans = tables["spans"].set_index("span_id")["exact"]
    names = tables["entities"].set_index("entity_id")["name"]
    offices = tables["occupancies"].set_index("occupancy_id")["role_as_stated"]
    shown = {row["quote_id"]: row for row in rows}
    assert set(shown) == set(tables["quotes"]["quote_id"])
    for quote in tables["quotes"].itertuples():
        row = shown[quote.quote_id]
        assert row["words"] == spans[quote.span_id]
        assert row["attribution"] == spans[quote.attribution_span_id]
        assert row["speaker"] == names[quote.speaker_entity_id]
        expected_office = None if pd.isna(quote.speaker_occupancy_id) else offices[quote.speaker_occupancy_id]
        assert row["office_as_stated"] == expected_office


def test_datasette_labels_every_key_with_its_words_or_name(exports: dict[str, Path]) -> None:
    from uslatam.loading import table_spec

    database = exports["sqlite"].stem
    (rows,) = _ask_datasette(exports, f"/{database}/quotes.json?_shape=array&_labels=on&_size=max")
    spans = load()["spans"].set_index("span_id")["exact"]
    assert table_spec("spans").label == "exact"
    for row in rows:
        assert row["span_id"] == {"value": row["span_id"]["value"], "label": spans[row["span_id"]["value"]]}
        assert row["speaker_entity_id"]["label"]  # the speaker's name, not only the slug


def test_datasette_searches_the_evidence_words(exports: dict[str, Path]) -> None:
    import collections
    import re

    spans = load()["spans"]
    tokens = {s: set(re.findall(r"[^\W_]+", text.lower())) for s, text in zip(spans["span_id"], spans["exact"])}
    counts = collections.Counter(t for words in tokens.values() for t in words if t.isascii() and len(t) > 5)
    # the longest word that several spans have (but not all): the search must find exactly those spans
    word = max((w for w, n in counts.items() if 2 < n < len(spans)), key=lambda w: (len(w), w))
    having = {s for s, words in tokens.items() if word in words}
    database = exports["sqlite"].stem
    found, quotes = _ask_datasette(
        exports,
        f"/{database}/spans.json?_search={word}&_shape=array&_size=max",
        f"/{database}/quotes_view.json?_search={word}&_shape=array&_size=max",
    )
    assert {row["span_id"] for row in found} == having
    assert all(word.lower() in (q["words"] + " " + q["attribution"]).lower() for q in quotes)


def test_datasette_shows_each_tables_own_licences(exports: dict[str, Path]) -> None:
    descriptor = json.loads((ROOT / "datapackage.json").read_text())
    metadata = json.loads((exports["sqlite"].parent / "metadata.json").read_text())
    tables = metadata["databases"][exports["sqlite"].stem]["tables"]
    for resource in descriptor["resources"]:
        for licence in resource.get("licenses") or descriptor["licenses"]:
            assert (licence.get("name") or licence["title"]) in tables[resource["name"]]["license"].split("; ")
    # a view carries the licences of every table it shows (the quoted words' terms among them)
    for licence in descriptor["resources"][[r["name"] for r in descriptor["resources"]].index("spans")]["licenses"]:
        assert (licence.get("name") or licence["title"]) in tables["quotes_view"]["license"].split("; ")


def test_sqlite_indexes_every_foreign_key(exports: dict[str, Path]) -> None:
    from uslatam.loading import table_spec

    with sqlite3.connect(exports["sqlite"]) as connection:
        for table in TABLES:
            spec = table_spec(table)
            indexed = set()
            for index in connection.execute(f'PRAGMA index_list("{table}")').fetchall():
                columns = tuple(c[2] for c in connection.execute(f'PRAGMA index_info("{index[1]}")').fetchall())
                indexed.add(columns)
            for key in spec.foreign_keys:
                assert any(columns[: len(key.fields)] == key.fields for columns in indexed), (table, key.fields)
            plan = " ".join(
                str(step)
                for key in spec.foreign_keys[:1]
                for step in connection.execute(
                    f'EXPLAIN QUERY PLAN SELECT * FROM "{table}" WHERE "{key.fields[0]}" = ?', ("x",)
                )
            )
            assert "SCAN" not in plan, (table, plan)


def test_the_wheel_carries_its_data(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    target = tmp_path / "site"
    wheel = next(wheels.glob("us_latam_security_facts-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = (
        "import uslatam, uslatam.paths as p; t = uslatam.load(); "
        "print(p.own_package().relative_to(p.MODULE), len(t['quotes']))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["_package", str(len(load()["quotes"]))]
    validate = subprocess.run(
        [sys.executable, "-m", "uslatam.cli.app", "validate"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert validate.returncode == 0 and "valid:" in validate.stdout and "_package" in validate.stdout


@pytest.mark.parametrize("fmt", [name for name, f in FORMATS.items() if f.into == "file"])
def test_a_failed_export_write_leaves_nothing_and_names_the_file(tmp_path: Path, monkeypatch, fmt: str) -> None:
    import errno

    destination = tmp_path / f"facts.{fmt}"
    destination.write_bytes(b"the previous export")
    real_replace = os.replace

    def full_disk(source, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError) as caught:
        export(fmt, destination)
    monkeypatch.setattr(os, "replace", real_replace)
    assert str(destination) in str(caught.value) or caught.value.filename == str(destination)
    assert destination.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [destination.name]
    record("fault", command=f"export {fmt}", fault="ENOSPC on rename", outcome="unchanged")


def test_an_export_killed_at_random_times_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    import random

    destination = tmp_path / "facts.db"
    export("sqlite", destination)
    complete = destination.read_bytes()
    destination.write_bytes(b"old")
    generator = random.Random(7)
    for _ in range(int(os.environ.get("USLATAM_KILL_RUNS", "4"))):
        process = subprocess.Popen(
            [sys.executable, "-m", "uslatam.cli.app", "export", "--format", "sqlite", str(destination)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(generator.uniform(1.0, 3.0))
        process.kill()
        process.wait()
        state = destination.read_bytes()
        assert state in (b"old", complete)
        record("kill", command="export", step="random", outcome="before" if state == b"old" else "after")
        destination.write_bytes(b"old")
