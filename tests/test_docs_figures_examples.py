"""Generated documents and figures are current; the datasheet's figures and the example hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from uslatam.cli.documents import DOCUMENTS
from uslatam.docs import data_dictionary_markdown
from uslatam.figures import FIGURES, draw_all
from uslatam.loading import load

from .conftest import ROOT


@pytest.mark.parametrize("relpath", sorted(DOCUMENTS))
def test_generated_document_is_current(relpath: str) -> None:
    committed = (ROOT / relpath).read_text(encoding="utf-8")
    assert committed == DOCUMENTS[relpath](ROOT), f"{relpath} is stale; regenerate with: uslatam docs"


def test_data_dictionary_covers_every_column_and_code() -> None:
    text = data_dictionary_markdown(ROOT)
    tables = load()
    for name, frame in tables.items():
        assert f"## `{name}`" in text
        for column in frame.columns:
            assert f"| `{column}` |" in text, (name, column)
    for code in tables["vocabularies"]["code"]:
        assert f"| `{code}` |" in text


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("figures")
    draw_all(folder)
    return folder


def _ids(svg: str) -> set[str]:
    return set(re.findall(r' id="([a-z0-9][a-z0-9-]*)"', svg))


def test_figures_are_reproducible(drawn: Path, tmp_path: Path) -> None:
    draw_all(tmp_path)
    for name in FIGURES:
        assert (tmp_path / name).read_bytes() == (drawn / name).read_bytes(), name


def test_committed_figures_show_the_current_data(drawn: Path) -> None:
    for name in FIGURES:
        committed = (ROOT / "docs" / "figures" / name).read_text(encoding="utf-8")
        fresh = (drawn / name).read_text(encoding="utf-8")
        assert _ids(committed) == _ids(fresh), f"docs/figures/{name} is stale; regenerate with: uslatam figures"


def test_every_dated_event_is_on_the_timeline(drawn: Path) -> None:
    events = load()["events"]
    dated = set(events.loc[events["date_start"].notna(), "event_id"])
    assert dated and dated <= _ids((drawn / "timeline.svg").read_text(encoding="utf-8"))


def test_every_participant_is_in_the_network_and_every_span_on_the_map(drawn: Path) -> None:
    tables = load()
    assert set(tables["event_participants"]["entity_id"]) <= _ids((drawn / "network.svg").read_text(encoding="utf-8"))
    assert set(tables["spans"]["span_id"]) <= _ids((drawn / "evidence-map.svg").read_text(encoding="utf-8"))


def test_the_example_analysis_runs_and_answers() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "analysis.py")], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "Who is quoted on demand" in result.stdout and "Claims about demand and supply" in result.stdout
    tillerson = next(line for line in result.stdout.splitlines() if line.startswith("Rex Tillerson"))
    assert tillerson.split()[-3:] == ["2", "3", "5"]
    reports = next(line for line in result.stdout.splitlines() if "Recent reports" in line)
    assert reports.split()[3:6] == ["causal", "hedged", "none"]  # "may be ramping up": who says it, how firmly


def test_the_datasheet_counts_are_the_data() -> None:
    text = (ROOT / "DATASHEET.md").read_text(encoding="utf-8")
    tables = load()
    stated = {
        "entities": r"(\d+) entities",
        "occupancies": r"(\d+) offices held",
        "events": r"(\d+) events",
        "event_participants": r"(\d+) event participations",
        "quotes": r"(\d+) quotes",
        "statistics": r"(\d+) statistics",
        "trend_claims": r"(\d+) trend claims",
        "spans": r"(\d+) evidence spans",
    }
    for table, pattern in stated.items():
        assert int(re.search(pattern, text).group(1)) == len(tables[table]), table


def test_data_dictionary_reads_keys_given_as_one_field(tmp_path: Path) -> None:
    """Table Schema allows a key of one field as a string; the dictionary reads it as the list it means."""
    import json

    from uslatam.package import copy_package

    package = copy_package(ROOT, tmp_path / "package")
    for file in (package / "schemas").glob("*.json"):
        schema = json.loads(file.read_text(encoding="utf-8"))
        if len(schema["primaryKey"]) == 1:
            schema["primaryKey"] = schema["primaryKey"][0]
        for key in schema.get("foreignKeys", []):
            if len(key["fields"]) == 1:
                key["fields"], key["reference"]["fields"] = key["fields"][0], key["reference"]["fields"][0]
        file.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    assert data_dictionary_markdown(package) == data_dictionary_markdown(ROOT)
