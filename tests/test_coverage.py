"""uslatam coverage: units of a source's body no row cites, on the invented source of the fixtures."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uslatam.coverage import CoverageError, coverage
from uslatam.units import find_units, sentences
from uslatam.validate import validate

from .conftest import FIXTURES, uslatam
from .test_support import SOURCE, _package, _put, _rows

TEXT = (FIXTURES / "invented" / "sources" / f"{SOURCE}.txt").read_text(encoding="utf-8")


def _at(words: str) -> tuple[int, int]:
    start = TEXT.index(words)
    return start, start + len(words)


def _uncovered(package: Path) -> set[tuple[str, int, int, str]]:
    return {(u.kind, u.start, u.end, u.words) for u in coverage(package).uncovered}


def test_units_of_a_body_by_kind() -> None:
    text = 'On March 3, 2020, the Harbour Town council met Ana Ruiz. "We will see," she said of 2.8 million riders.\n'
    units = {(u.kind, u.words) for u in find_units("s", text, 0, len(text))}
    assert units == {
        ("sentence", "On March 3, 2020, the Harbour Town council met Ana Ruiz."),
        ("sentence", '"We will see," she said of 2.8 million riders.'),
        ("date", "March 3, 2020"),
        ("name", "Harbour Town"),
        ("name", "Ana Ruiz"),
        ("quotation", "We will see,"),
        ("number", "2.8 million"),
    }


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("One. Two? Three! Four", ["One.", "Two?", "Three!", "Four"]),
        ("Line one\n\nLine two.", ["Line one", "Line two."]),
        ("The U.S. officials met. They left.", ["The U.S. officials met.", "They left."]),  # no split before lower case
        ('He said "no." Then he left.', ['He said "no."', "Then he left."]),
    ],
)
def test_sentences(text: str, parts: list[str]) -> None:
    assert [text[s:e] for s, e in sentences(text, 0, len(text))] == parts


def test_numbers_and_years_in_words() -> None:
    text = "In 2016, 222,000 people, 45% of them, spent multi-billion sums, or two million dollars, on route 66."
    found = {(u.kind, u.words) for u in find_units("s", text, 0, len(text)) if u.kind in ("number", "date")}
    assert found == {
        ("date", "2016"),
        ("number", "222,000"),
        ("number", "45%"),
        ("number", "multi-billion"),
        ("number", "two million"),
        ("number", "66"),
    }


def test_the_invented_source_is_covered() -> None:
    result = coverage(FIXTURES / "invented")
    assert result.complete
    (source,) = result.sources
    assert (source.body_start, source.body_end) == (TEXT.index("On March 3"), TEXT.index("Related:"))
    assert source.units == {"sentence": 4, "quotation": 1, "number": 1, "date": 1, "name": 3}


def test_a_sentence_no_row_cites_is_listed_with_its_offsets(tmp_path: Path) -> None:
    package = _package(tmp_path)
    header, _ = _rows(package, "claims")
    _put(package, "claims", header, [])
    words = "Critics said the plan was too costly."
    assert _uncovered(package) == {("sentence", *_at(words), words)}  # "Critics" is still a mention


def test_a_number_and_a_quotation_no_row_cites(tmp_path: Path) -> None:
    package = _package(tmp_path)
    for table in ("statistics", "quotes"):
        header, _ = _rows(package, table)
        _put(package, table, header, [])
    statistic = "She added that the ferry would carry 1,200 passengers a day."
    quote = '"We have waited long enough," Mayor Ana Ruiz said.'
    assert _uncovered(package) == {
        ("sentence", *_at(statistic), statistic),
        ("number", *_at("1,200"), "1,200"),
        ("sentence", *_at(quote), quote),
        ("quotation", *_at("We have waited long enough,"), "We have waited long enough,"),
    }


def test_a_name_no_row_cites(tmp_path: Path) -> None:
    package = _package(tmp_path)
    header, rows = _rows(package, "quotes")
    rows[0]["attribution_span_id"] = "inv-m-she"  # a span that leaves "Mayor Ana Ruiz" uncited
    _put(package, "quotes", header, rows)
    header, rows = _rows(package, "mentions")
    _put(package, "mentions", header, [r for r in rows if r["mention_id"] != "ana-ruiz-mayor-ana-ruiz"])
    found = _uncovered(package)
    assert ("name", *_at("Mayor Ana Ruiz"), "Mayor Ana Ruiz") in found


def test_an_exclusion_covers_what_no_row_cites(tmp_path: Path) -> None:
    package = _package(tmp_path)
    header, _ = _rows(package, "claims")
    _put(package, "claims", header, [])
    header, rows = _rows(package, "exclusions")
    rows.append(
        {
            "exclusion_id": "critics-too-costly",
            "source_id": SOURCE,
            "reason_code": "no_fact",
            "reason": "Left out for the test.",
            "span_id": "inv-c-too-costly",
        }
    )
    _put(package, "exclusions", header, rows)
    assert coverage(package).complete
    assert validate(package, against=False).valid


def test_validate_reports_uncovered_text_only_when_the_package_asks(tmp_path: Path) -> None:
    package = _package(tmp_path)
    header, _ = _rows(package, "claims")
    _put(package, "claims", header, [])
    report = validate(package, against=False)
    (finding,) = report.findings
    assert finding.location == ("uncovered-text", "sources", 2, "body")
    assert finding.value == "Critics said the plan was too costly."
    descriptor = json.loads((package / "datapackage.json").read_text())
    descriptor["uslatam"] = {"coverage": False}
    (package / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")
    assert validate(package, against=False).findings == []


def test_validate_reports_every_passage_no_row_cites(tmp_path: Path) -> None:
    """Several passages of one body share its row and column: each is a finding of its own."""
    package = _package(tmp_path)
    for table in ("statistics", "quotes"):
        header, _ = _rows(package, table)
        _put(package, table, header, [])
    found = [f for f in validate(package, against=False).findings if f.code == "uncovered-text"]
    assert {f.location for f in found} == {("uncovered-text", "sources", 2, "body")}
    assert {(f.message.split()[1], f.value) for f in found} == {
        (kind, words) for kind, _, _, words in _uncovered(package)
    }
    assert len(found) == len(_uncovered(package)) == 4


def test_coverage_of_one_source_and_of_an_unknown_one(tmp_path: Path) -> None:
    assert [s.source_id for s in coverage(FIXTURES / "invented", [SOURCE]).sources] == [SOURCE]
    with pytest.raises(CoverageError, match="no source 'elsewhere'"):
        coverage(FIXTURES / "invented", ["elsewhere"])
    with pytest.raises(CoverageError, match="cannot be read"):
        coverage(tmp_path)


def test_the_command_in_json_and_github_formats(tmp_path: Path) -> None:
    package = _package(tmp_path)
    header, _ = _rows(package, "claims")
    _put(package, "claims", header, [])
    result = uslatam("coverage", "--package", str(package), "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["complete"] is False
    (unit,) = data["sources"][0]["uncovered"]
    start, end = _at("Critics said the plan was too costly.")
    assert (unit["kind"], unit["start"], unit["end"]) == ("sentence", start, end)
    line = TEXT[:start].count("\n") + 1
    github = uslatam("coverage", "--package", str(package), "--format", "github")
    assert github.returncode == 1
    command = re.compile(r"^::(?P<level>\w+) (?P<properties>[^:]*)::(?P<message>.*)$")
    (annotation,) = [m for m in map(command.match, github.stdout.splitlines()) if m]
    properties = dict(p.split("=", 1) for p in annotation["properties"].split(","))
    assert properties["file"] == f"sources/{SOURCE}.txt"
    assert (int(properties["line"]), int(properties["col"])) == (line, start - TEXT.rfind("\n", 0, start))
    assert uslatam("coverage", "--package", str(FIXTURES / "invented")).returncode == 0
    broken = tmp_path / "broken"
    shutil.copytree(package, broken)
    (broken / "datapackage.json").write_text("{")
    assert uslatam("coverage", "--package", str(broken)).returncode == 2


def test_the_share_of_a_sentence_held_by_spans_counts_visible_characters_once() -> None:
    """Covered parts merged, white space (Unicode's too) not counted: the same share as a
    character-by-character count, on random sentences and overlapping spans."""
    import random

    from uslatam.units import _held

    chance = random.Random(5)
    alphabet = "ab c\u00a0d\u2003e\n\tf."
    for _ in range(300):
        text = "".join(chance.choice(alphabet) for _ in range(chance.randrange(0, 60)))
        first = chance.randrange(0, len(text) + 1)
        last = chance.randrange(first, len(text) + 1)
        spans = []
        for _ in range(chance.randrange(0, 6)):
            start = chance.randrange(-3, len(text) + 3)
            spans.append((start, start + chance.randrange(0, 20)))
        inside = [any(s <= at < e for s, e in spans) for at in range(len(text))]
        visible = [at for at in range(first, last) if not text[at].isspace()]
        expected = sum(inside[at] for at in visible) / len(visible) if visible else 1.0
        assert _held(text, (first, last), spans) == pytest.approx(expected)


def test_what_lies_inside_a_date_is_found_by_bisection_as_by_a_scan() -> None:
    import random

    from uslatam.units import _Intervals

    chance = random.Random(8)
    for _ in range(200):
        pairs, at = [], 0
        for _ in range(chance.randrange(0, 8)):  # ordered, not overlapping: a regex's matches
            start = at + chance.randrange(0, 5)
            at = start + chance.randrange(1, 6)
            pairs.append((start, at))
        within = _Intervals(pairs)
        for start in range(-1, at + 3):
            assert within.holds(start, start + 1) == any(s <= start < e for s, e in pairs)
            for end in range(start + 1, start + 8):
                assert within.holds(start, end) == any(s <= start and end <= e for s, e in pairs)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["cites", "names", "excludes"]),
        st.lists(
            st.lists(st.tuples(st.sampled_from(["s1", "s2", "a-3"]), st.integers(0, 9), st.integers(0, 9)), max_size=8),
            min_size=1,
            max_size=3,
        ),
    )
)
def test_cited_spans_grouped_on_columns_as_a_row_at_a_time(cited) -> None:
    """Coverage's spans by source and role, from whole columns, are the sorted (start, end) a row at a time gives."""
    import pandas as pd

    from uslatam.validate.rules.support import _spans_by_source

    def frame(rows):
        return pd.DataFrame(
            {
                "source_id": pd.array([r[0] for r in rows], dtype="string"),
                "start": pd.array([r[1] for r in rows], dtype="Int64"),
                "end": pd.array([r[2] for r in rows], dtype="Int64"),
            }
        )

    expected: dict[str, dict[str, list]] = {}
    for role, parts in cited.items():
        for rows in parts:
            for source, start, end in rows:
                expected.setdefault(source, {}).setdefault(role, []).append((start, end))
    expected = {s: {r: sorted(spans) for r, spans in roles.items()} for s, roles in expected.items()}
    assert _spans_by_source({role: [frame(rows) for rows in parts] for role, parts in cited.items()}) == expected
