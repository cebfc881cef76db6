"""Typed loading, the joined views, the wheel's bundled data, and every export round trip."""

from __future__ import annotations

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
        if isinstance(value, pd.Timestamp):
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
    return pd.DataFrame(json.loads(destination.read_text())["tables"][table])


# Each export format read back with the tool its users read it with.
READERS = {"parquet": _read_parquet, "sqlite": _read_sqlite, "xlsx": _read_xlsx, "json": _read_json}


def test_every_export_format_is_read_back_by_a_test() -> None:
    assert set(READERS) == set(FORMATS), "add a reader for the new format to READERS"


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
