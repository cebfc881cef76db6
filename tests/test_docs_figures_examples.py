"""Generated documents and figures are current; the datasheet's figures and the example hold."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
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


SVG = "{http://www.w3.org/2000/svg}"
SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _svg(file: Path) -> ET.Element:
    return ET.parse(file).getroot()


def _ids(svg: ET.Element) -> list[str]:
    """The IDs the figure draws: its groups' ids that are slugs (matplotlib's own are like ``line2d_3``)."""
    return [g.get("id", "") for g in svg.iter(f"{SVG}g") if SLUG.fullmatch(g.get("id", ""))]


def _texts(svg: ET.Element, gid: str | None = None) -> list[str]:
    """Every <text> element's words, in drawing order (only those inside the group ``gid``, if given)."""
    roots = [svg] if gid is None else [g for g in svg.iter(f"{SVG}g") if g.get("id") == gid]
    return ["".join(text.itertext()) for root in roots for text in root.iter(f"{SVG}text")]


def _label(svg: ET.Element, row_id: str) -> str:
    """A drawn row's label, its wrapped lines joined again."""
    return " ".join(_texts(svg, f"{row_id}_label"))


def test_every_figure_is_written_as_svg_and_png() -> None:
    stems = {name.rsplit(".", 1)[0] for name in FIGURES}
    assert {"timeline", "network", "evidence-map", "argument"} <= stems
    assert set(FIGURES) == {f"{stem}.{suffix}" for stem in stems for suffix in ("svg", "png")}


def test_figures_are_reproducible(drawn: Path, tmp_path: Path) -> None:
    draw_all(tmp_path)
    for name in FIGURES:
        assert (tmp_path / name).read_bytes() == (drawn / name).read_bytes(), name


def test_the_pngs_are_real_pngs(drawn: Path) -> None:
    from PIL import Image

    for name in (n for n in FIGURES if n.endswith(".png")):
        for file in (drawn / name, ROOT / "docs" / "figures" / name):
            with Image.open(file) as image:
                assert image.format == "PNG", file
                image.load()  # decodes every pixel: a truncated file fails here
                width, height = image.size
            assert width > 0 and height > 0, file
            assert width >= 600, f"{file} is {width} pixels wide: too small to read"


def test_committed_figures_show_the_current_data(drawn: Path) -> None:
    from PIL import Image

    stale = "is stale; regenerate with: uslatam figures"
    for name in FIGURES:
        committed, fresh = ROOT / "docs" / "figures" / name, drawn / name
        assert committed.is_file(), f"docs/figures/{name} is missing; regenerate with: uslatam figures"
        if name.endswith(".svg"):
            assert _ids(_svg(committed)) == _ids(_svg(fresh)), f"docs/figures/{name} {stale}"
            assert _texts(_svg(committed)) == _texts(_svg(fresh)), f"docs/figures/{name} {stale}"
        else:
            with Image.open(committed) as old, Image.open(fresh) as new:
                assert old.size == new.size, f"docs/figures/{name} {stale}"


def test_every_figure_has_a_footer_naming_the_version_and_source(drawn: Path) -> None:
    version = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))["version"]
    sources = load()["sources"]
    for name in (n for n in FIGURES if n.endswith(".svg")):
        svg = _svg(drawn / name)
        assert any(f"version {version}" in text for text in _texts(svg)), f"{name}: no <text> names the version"
        footer = " ".join(_texts(svg, "footer_text"))
        assert f"version {version}" in footer, name
        for title, publisher in zip(sources["title"], sources["publisher"]):
            assert title in footer and publisher in footer, (name, footer)


def test_every_dated_event_is_on_the_timeline(drawn: Path) -> None:
    events = load()["events"]
    dated = set(events.loc[events["date_start"].notna(), "event_id"])
    assert dated and dated <= set(_ids(_svg(drawn / "timeline.svg")))


def test_the_timeline_shows_every_label_whole(drawn: Path) -> None:
    """Events of one day are stacked and their summaries wrapped, never cut short with an ellipsis."""
    svg = _svg(drawn / "timeline.svg")
    assert not [text for text in _texts(svg) if "…" in text]
    events = load()["events"]
    for event_id, summary in zip(events["event_id"], events["summary"]):
        if event_id in _ids(svg):
            assert _label(svg, event_id) == " ".join(summary.split()), event_id


def test_every_participant_is_in_the_network_and_every_span_on_the_map(drawn: Path) -> None:
    tables = load()
    assert set(tables["event_participants"]["entity_id"]) <= set(_ids(_svg(drawn / "network.svg")))
    assert set(tables["spans"]["span_id"]) <= set(_ids(_svg(drawn / "evidence-map.svg")))


def test_every_claim_is_drawn_in_the_argument_figure_once_with_its_summary(drawn: Path) -> None:
    svg = _svg(drawn / "argument.svg")
    claims = load()["claims"]
    drawn_ids = _ids(svg)
    assert sorted(drawn_ids) == sorted(claims["claim_id"])  # each claim once, and nothing else
    for claim_id, summary in zip(claims["claim_id"], claims["summary"]):
        assert _label(svg, claim_id) == " ".join(summary.split()), claim_id


def test_the_argument_figure_explains_every_code_of_the_schema(drawn: Path) -> None:
    """The legend names each code of certainty, polarity, claim type and voice, in the schema's words."""
    tables = load()
    texts = " ".join(_texts(_svg(drawn / "argument.svg")))
    vocabularies = tables["vocabularies"]
    for column in ("certainty", "polarity", "claim_type", "voice"):
        codes = list(tables["claims"][column].cat.categories)
        assert codes, column
        for code in codes:
            row = vocabularies[(vocabularies["vocabulary"] == column) & (vocabularies["code"] == code)]
            label = row["label"].iloc[0]
            assert label in texts, (column, code)
    entities = tables["entities"].set_index("entity_id")["name"]
    for asserter in tables["claims"]["asserted_by_entity_id"].dropna().unique():
        assert entities[asserter] in texts, asserter


def test_the_evidence_map_marks_the_text_outside_the_body_from_the_sources_table(tmp_path: Path) -> None:
    """Page furniture is what lies outside body_start..body_end of data/sources.csv, not a phrase of one article."""
    from uslatam.package import copy_package

    package = copy_package(ROOT, tmp_path / "package")
    sources = package / "data" / "sources.csv"
    source = load()["sources"].iloc[0]
    start, end = int(source["body_start"]), int(source["body_end"])
    row = f",{source['code_points']},{start},{end},"
    text = sources.read_text(encoding="utf-8")
    assert text.count(row) == 1
    sources.write_text(text.replace(row, f",{source['code_points']},{start + 40},{end - 1000},"), encoding="utf-8")
    draw_all(tmp_path / "figures", package)
    texts = _texts(_svg(tmp_path / "figures" / "evidence-map.svg"))
    assert any(f"body starts (code point {start + 40})" in t for t in texts), texts
    assert any(f"body ends (code point {end - 1000})" in t for t in texts), texts


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
