"""uslatam add / add-source: evidence found by its words, all or nothing, nothing lost."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from uslatam.package import refresh_integrity
from uslatam.rows import AddError, add_rows, add_source, read_input
from uslatam.transaction import PackageLock, TransactionError
from uslatam.validate import validate

from .conftest import ROOT, as_released, record, uslatam

SOURCE = "insightcrime-2017-05-19-mexico-colombia-meetings"
TACKLE_JOINTLY = f"""
source_id: {SOURCE}
quotes:
  - quote_id: videgaray-tackle-jointly
    speaker_entity_id: luis-videgaray-caso
    quote_type: partial
    span:
      id: ic-q-tackle-jointly
      words: "an understanding that we need to tackle jointly all of the elements"
    attribution_span:
      id: ic-a-videgaray-noted
      words: "Videgaray noted that the meeting did not conclude with any new agreements or strategies, but rather with"
"""


def snapshot(package: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(package)): p.read_bytes()
        for p in sorted(package.rglob("*"))
        if p.is_file() and ".uslatam" not in p.parts
    }


def _drop_rows(package: Path, table: str, column: str, values: set[str]) -> None:
    path = package / "data" / f"{table}.csv"
    records = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    index = records[0].index(column)
    kept = [records[0]] + [r for r in records[1:] if r[index] not in values]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(kept)
    path.write_text(buffer.getvalue(), encoding="utf-8")


@pytest.fixture
def without_tackle_jointly(package_copy: Path) -> Path:
    """The real package without one real quote and its words (its attribution is a claim's too, so it stays)."""
    _drop_rows(package_copy, "quotes", "quote_id", {"videgaray-tackle-jointly"})
    _drop_rows(package_copy, "spans", "span_id", {"ic-q-tackle-jointly"})
    refresh_integrity(package_copy)
    as_released(package_copy)  # the quote was never released: adding it is new, dropping it was no removal
    assert validate(package_copy).valid
    return package_copy


def test_adding_a_real_quote_gives_exactly_the_rows_written_by_hand(without_tackle_jointly: Path) -> None:
    (without_tackle_jointly / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    result = uslatam("add", "quote.yaml", cwd=without_tackle_jointly)
    assert result.returncode == 0, result.stderr
    for relpath in ("data/quotes.csv", "data/spans.csv", "datapackage.json"):
        assert (without_tackle_jointly / relpath).read_bytes() == (ROOT / relpath).read_bytes(), relpath


def test_dry_run_reports_and_writes_nothing(without_tackle_jointly: Path) -> None:
    before = snapshot(without_tackle_jointly)
    (without_tackle_jointly / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    result = uslatam("add", "quote.yaml", "--dry-run", "--format", "json", cwd=without_tackle_jointly)
    summary = json.loads(result.stdout)
    assert summary["rows"] == {"quotes": 1, "spans": 1}  # the attribution span already exists
    assert {s["span_id"] for s in summary["spans_created"]} == {"ic-q-tackle-jointly"}
    before.pop("quote.yaml", None)
    after = snapshot(without_tackle_jointly)
    after.pop("quote.yaml")
    assert after == before


def test_csv_input_from_standard_input_reuses_an_existing_span(package_copy: Path) -> None:
    text = (
        "claim_id,source_id,subject,area_entity_id,direction,period,period_precision,period_basis,certainty,"
        "voice,span_words\n"
        f"mexico-heroin-production-rising-again,{SOURCE},Heroin production,mexico,increase,2017-05-19,day,"
        "as_of_publication,asserted,source,Heroin production is rising in Mexico\n"
    )
    shutil.copy(ROOT / "README.md", package_copy / "README.md")  # its table of row counts is generated
    result = uslatam("add", "trend_claims", "-", "--input-format", "csv", cwd=package_copy, stdin=text)
    assert result.returncode == 0, result.stderr
    assert "reused span ic-heroin-rising" in result.stdout
    assert "now stale: README.md; regenerate with: uslatam docs" in result.stdout.splitlines()
    assert validate(package_copy).valid


BAD_INPUTS = {
    "words not found": (
        "quotes",
        "speaker_entity_id: donald-trump\n    quote_type: term\n    span: {words: cocoaa}\n"
        "    attribution_span: {words: Trump said}",
        "evidence-not-found",
        3,
    ),
    "ambiguous words": (
        "quotes",
        "speaker_entity_id: donald-trump\n    quote_type: term\n    span: {words: cocoa}\n"
        "    attribution_span: {words: On May 18}",
        "evidence-not-found",
        3,
    ),
    "duplicate id": (
        "quotes",
        "quote_id: trump-cocoa\n    speaker_entity_id: donald-trump\n    quote_type: term\n"
        "    span: {words: cocoa}\n    attribution_span: {words: Trump said}",
        "primary-key",
        3,
    ),
    "unknown foreign key": (
        "quotes",
        "speaker_entity_id: donald-trum\n    quote_type: term\n    span: {words: cocoa}\n"
        "    attribution_span: {words: Trump said}",
        "foreign-key",
        3,
    ),
    "wrong type": (
        "statistics",
        "measure: m\n    value: lots\n    value_text: 2.8 million\n    unit: persons\n"
        "    qualifier: estimated\n    span: {words: the estimated 2.8 million}",
        "type-error",
        3,
    ),
    "unknown table": ("quotess", "quote_type: term", "input-error", 3),
    "unknown column": ("quotes", "quote_kind: term", "input-error", 3),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_changes_nothing_and_points_at_the_input_line(package_copy: Path, case: str) -> None:
    table, row, code, line = BAD_INPUTS[case]
    (package_copy / "in.yaml").write_text(f"source_id: {SOURCE}\n{table}:\n  - {row}\n", encoding="utf-8")
    before = snapshot(package_copy)
    result = uslatam("add", "in.yaml", "--format", "json", cwd=package_copy)
    assert result.returncode == 1, result.stdout
    problems = json.loads(result.stderr)["findings"]
    assert (code, "in.yaml", line) in {(p["code"], p["file"], p["line"]) for p in problems}, problems
    assert snapshot(package_copy) == before


def test_malformed_input_is_refused_with_its_line() -> None:
    with pytest.raises(AddError) as caught:
        read_input("quotes:\n  - quote_id: [unclosed\n", name="x.yaml", fmt="yaml", table=None)
    assert caught.value.problems[0].line == 3
    with pytest.raises(AddError, match="anchors and aliases"):
        read_input("a: &x [1]\nquotes:\n  - *x\n", name="x.yaml", fmt="yaml", table=None)
    with pytest.raises(AddError, match="CSV syntax error"):
        read_input('quote_id\n"unterminated\n', name="x.csv", fmt="csv", table="quotes")


def test_json_input_is_read_with_line_numbers() -> None:
    rows = read_input(
        '{"quotes": [\n {"quote_id": "a"},\n {"quote_id": "b"}\n]}', name="x.json", fmt="json", table=None
    )
    assert [(r.table, r.values["quote_id"], r.line) for r in rows] == [("quotes", "a", 2), ("quotes", "b", 3)]


# --- add-source -------------------------------------------------------------------------


def test_add_source_stores_the_text_and_its_row(package_copy: Path, tmp_path: Path) -> None:
    text = 'A Second Article\n\nOfficials met on Monday. "We agreed," the minister said.\n'
    article = tmp_path / "article.txt"
    article.write_bytes(text.encode("utf-8"))
    result = uslatam(
        "add-source",
        str(article),
        "--id",
        "example-2017-06-01-second-article",
        "--title",
        "A Second Article",
        "--publisher",
        "Example News",
        "--url",
        "https://example.org/a",
        "--published",
        "2017-06-01",
        "--language",
        "en",
        "--reuse-terms",
        "All rights reserved.",
        "--author",
        "A. Writer",
        cwd=package_copy,
    )
    assert result.returncode == 0, result.stderr
    stored = package_copy / "sources" / "example-2017-06-01-second-article.txt"
    assert stored.read_bytes() == article.read_bytes()
    assert validate(package_copy).valid
    sources = {r["source_id"]: r for r in csv.DictReader(open(package_copy / "data" / "sources.csv", encoding="utf-8"))}
    row = sources["example-2017-06-01-second-article"]
    assert row["title_basis"] == "text" and row["title_span_id"] == "example-a-second-article"
    assert row["url_basis"] == "publisher_page"
    again = uslatam(
        "add-source",
        str(article),
        "--id",
        "another-id",
        "--title",
        "x",
        "--publisher",
        "x",
        "--url",
        "https://example.org/b",
        "--published",
        "2017-06-01",
        "--language",
        "en",
        "--reuse-terms",
        "x",
        cwd=package_copy,
    )
    assert again.returncode == 1 and "already registered as source 'example-2017-06-01-second-article'" in again.stderr


def test_add_source_refuses_text_that_is_not_utf8(package_copy: Path, tmp_path: Path) -> None:
    article = tmp_path / "latin1.txt"
    article.write_bytes("Se\xf1or".encode("latin-1"))
    before = snapshot(package_copy)
    with pytest.raises(AddError, match="not UTF-8"):
        add_source(package_copy, article, {"source_id": "x"}, source_name=str(article))
    assert snapshot(package_copy) == before


# --- crash and concurrency ----------------------------------------------------------------

STEPS = ("staged", "journaled", "moved-first", "moved-all", "done")


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_every_step_leaves_before_or_after(without_tackle_jointly: Path, step: str) -> None:
    package = without_tackle_jointly
    (package / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    before = snapshot(package)
    killed = uslatam("add", "quote.yaml", cwd=package, env={"USLATAM_CRASH_AT": step})
    assert killed.returncode == 137
    recovered = uslatam("recover", cwd=package)
    assert recovered.returncode == 0
    state = snapshot(package)
    after = dict(
        before, **{p: (ROOT / p).read_bytes() for p in ("data/quotes.csv", "data/spans.csv", "datapackage.json")}
    )
    assert state == (before if step == "staged" else after)
    assert validate(package).valid
    assert not list(package.rglob(".*uslatam-tmp-*"))
    record("kill", command="add", step=step, outcome="before" if state == before else "after")


def test_kills_at_random_times_leave_before_or_after(without_tackle_jointly: Path) -> None:
    import random
    import time

    package = without_tackle_jointly
    (package / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    before = snapshot(package)
    after = dict(
        before, **{p: (ROOT / p).read_bytes() for p in ("data/quotes.csv", "data/spans.csv", "datapackage.json")}
    )
    runs = int(os.environ.get("USLATAM_KILL_RUNS", "6"))
    generator = random.Random(20170518)
    outcomes = []
    for _ in range(runs):
        for relpath, data in before.items():
            (package / relpath).write_bytes(data)
        process = subprocess.Popen(
            [sys.executable, "-m", "uslatam.cli.app", "add", "quote.yaml"],
            cwd=package,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(generator.uniform(1.0, 3.0))
        process.kill()
        process.wait()
        assert uslatam("recover", cwd=package).returncode == 0
        state = snapshot(package)
        assert state in (before, after)
        outcomes.append("after" if state == after else "before")
        record("kill", command="add", step="random", outcome=outcomes[-1])
    assert len(outcomes) == runs


def test_two_concurrent_adds_both_land(package_copy: Path) -> None:
    claims = []
    for number, words in enumerate(
        ["Heroin production is rising in Mexico", "Colombia is producing more cocaine than ever"]
    ):
        (package_copy / f"c{number}.yaml").write_text(
            f"source_id: {SOURCE}\ntrend_claims:\n  - claim_id: concurrent-{number}\n    subject: s\n"
            f"    direction: increase\n    period_precision: unknown\n    period_basis: none\n"
            f"    certainty: asserted\n    voice: source\n    span: {{words: {words}}}\n",
            encoding="utf-8",
        )
        claims.append(f"concurrent-{number}")
    processes = [
        subprocess.Popen(
            # the lock wait is wall time: generous, so that a busy machine does not fail the test
            [sys.executable, "-m", "uslatam.cli.app", "add", f"c{n}.yaml", "--lock-timeout", "900"],
            cwd=package_copy,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(2)
    ]
    results = [(p.wait(), p.stderr.read().decode() if p.stderr else "") for p in processes]
    assert [code for code, _ in results] == [0, 0], results
    ids = {r["claim_id"] for r in csv.DictReader(open(package_copy / "data" / "trend_claims.csv", encoding="utf-8"))}
    assert set(claims) <= ids
    assert validate(package_copy).valid


def test_a_held_lock_times_out_naming_its_holder(package_copy: Path) -> None:
    (package_copy / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    with PackageLock(package_copy, timeout=1):
        result = uslatam("add", "quote.yaml", "--lock-timeout", "0.5", cwd=package_copy)
    assert result.returncode == 2
    assert f"process {os.getpid()}" in result.stderr


def test_a_full_disk_leaves_nothing_behind_and_names_the_file(without_tackle_jointly: Path, monkeypatch) -> None:
    package = without_tackle_jointly
    before = snapshot(package)
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(descriptor):
        calls["n"] += 1
        if calls["n"] == 2:  # the second file written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    rows = read_input(TACKLE_JOINTLY, name="quote.yaml", fmt="yaml", table=None)
    with pytest.raises(TransactionError, match=r"cannot write (data/|datapackage).*No space left"):
        add_rows(package, rows)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert snapshot(package) == before
    assert not list(package.rglob(".*uslatam-tmp-*"))
    assert not (package / ".uslatam" / "journal.json").exists()
    record("fault", command="add", fault="ENOSPC on fsync", outcome="unchanged")


def test_the_state_folder_does_not_affect_validation(package_copy: Path) -> None:
    # the lock and journal live in .uslatam/, which validation ignores and git ignores
    with PackageLock(package_copy, timeout=1):
        pass
    assert (package_copy / ".uslatam").is_dir()
    assert validate(package_copy).valid
    shutil.rmtree(package_copy / ".uslatam")


@pytest.mark.parametrize("step", STEPS)
def test_add_source_killed_at_every_step_leaves_before_or_after(package_copy: Path, tmp_path: Path, step: str) -> None:
    article = tmp_path / "article.txt"
    article.write_bytes(b"A Third Article\n\nSomething happened.\n")
    before = snapshot(package_copy)
    arguments = [
        "add-source",
        str(article),
        "--id",
        "example-2017-07-01-third",
        "--title",
        "A Third Article",
        "--publisher",
        "Example",
        "--url",
        "https://example.org/c",
        "--published",
        "2017-07-01",
        "--language",
        "en",
        "--reuse-terms",
        "None stated.",
    ]
    killed = uslatam(*arguments, cwd=package_copy, env={"USLATAM_CRASH_AT": step})
    assert killed.returncode == 137
    assert uslatam("recover", cwd=package_copy).returncode == 0
    state = snapshot(package_copy)
    stored = "sources/example-2017-07-01-third.txt"
    if step == "staged":
        assert state == before
    else:
        assert state[stored] == article.read_bytes() and state != before
    assert validate(package_copy, against=False).valid
    record("kill", command="add-source", step=step, outcome="before" if state == before else "after")


def test_a_second_source_is_released_cited_and_checks_out(package_copy: Path, tmp_path: Path) -> None:
    """add-source, then release: the release commit holds the new text, and every citation names both sources."""
    import bibtexparser
    import yaml

    article = tmp_path / "article.txt"
    article.write_bytes(b'A Second Article\n\nOfficials met on Monday. "We agreed," the minister said.\n')
    added = uslatam(
        "add-source", str(article), "--id", "example-2017-06-01-second-article", "--title", "A Second Article",
        "--publisher", "Example News", "--url", "https://example.org/a", "--published", "2017-06-01",
        "--language", "en", "--reuse-terms", "All rights reserved.", "--author", "Ann Writer",
        cwd=package_copy,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    released = uslatam("release", cwd=package_copy)
    assert released.returncode == 0, released.stderr
    cff = yaml.safe_load((package_copy / "CITATION.cff").read_text(encoding="utf-8"))
    sources = {r["url"]: r for r in csv.DictReader(open(package_copy / "data" / "sources.csv", encoding="utf-8"))}
    assert {entry["url"] for entry in cff["references"]} == set(sources)
    second = next(entry for entry in cff["references"] if entry["url"] == "https://example.org/a")
    assert second["title"] == "A Second Article" and second["authors"] == [
        {"family-names": "Writer", "given-names": "Ann"}
    ]
    descriptor = json.loads((package_copy / "datapackage.json").read_text(encoding="utf-8"))
    assert {entry["path"] for entry in descriptor["sources"]} == set(sources)
    bibtex = uslatam("cite", "--format", "bibtex", cwd=package_copy)
    entries = bibtexparser.parse_string(bibtex.stdout).entries
    assert {e.fields_dict["url"].value for e in entries if "url" in e.fields_dict} >= set(sources)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--branch", "v" + descriptor["version"], str(package_copy), str(clone)],
                   check=True, capture_output=True)  # fmt: skip
    assert (clone / "sources" / "example-2017-06-01-second-article.txt").read_bytes() == article.read_bytes()
    assert validate(clone).valid, [f.to_dict() for f in validate(clone).errors]


def test_an_entity_gets_its_evidence_by_words_from_a_source_named_beside_the_rows(package_copy: Path) -> None:
    """entities have no source_id column: the source named at the top (or in the row) holds the words."""
    as_released(package_copy)
    beside = f"source_id: {SOURCE}\nentities:\n  - entity_id: dhs\n    entity_type: government_body\n"
    beside += "    name: Department of Homeland Security\n    span: Homeland Security\n"
    plan = add_rows(package_copy, read_input(beside, name="in.yaml", fmt="yaml", table=None))
    assert [(s["source_id"], s["exact"]) for s in plan.spans_created] == [(SOURCE, "Homeland Security")]
    entity = next(r for r in csv.DictReader(open(package_copy / "data" / "entities.csv", encoding="utf-8"))
                  if r["entity_id"] == "dhs")  # fmt: skip
    assert entity["span_id"] == plan.spans_created[0]["span_id"] and "source_id" not in entity
    assert validate(package_copy).valid
    in_row = "entities:\n  - entity_id: kelly-post\n    entity_type: government_body\n    name: Secretary\n"
    in_row += f"    source_id: {SOURCE}\n    span: {{words: Secretary of Homeland Security}}\n"
    assert add_rows(package_copy, read_input(in_row, name="in.yaml", fmt="yaml", table=None), dry_run=True).added
    with pytest.raises(AddError) as missing:
        add_rows(package_copy, read_input(in_row.replace(f"    source_id: {SOURCE}\n", ""), name="in.yaml",
                                          fmt="yaml", table=None), dry_run=True)  # fmt: skip
    assert "source_id" in missing.value.problems[0].message and missing.value.problems[0].line == 2


def test_add_source_takes_each_basis_and_says_what_it_assumed(package_copy: Path, tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text("A Third Article\n\nBy B. Reporter\n\nOfficials met.\n", encoding="utf-8")
    metadata = {
        "source_id": "example-2017-06-03-third-article", "title": "A Third Article", "publisher": "Example News",
        "url": "https://example.org/c", "published": "2017-06-03", "language": "en", "reuse_terms": "x",
        "authors": ["B. Reporter"], "url_basis": "public_reposts", "published_basis": "public_reposts",
    }  # fmt: skip
    plan = add_source(package_copy, article, metadata, source_name="article.txt", dry_run=True)
    row = plan.added["sources"][0]
    assert (row["url_basis"], row["published_basis"]) == ("public_reposts", "public_reposts")  # given: kept
    assert (row["title_basis"], row["publisher_basis"]) == ("text", "publisher_page")  # in the text, or not
    assert plan.added["source_authors"][0]["basis"] == "text"
    assumed = " | ".join(plan.summary()["assumed"])
    assert "title_basis: text" in assumed and "publisher_basis: publisher_page" in assumed
    assert "authors_basis: text" in assumed and "url_basis" not in assumed
    given = add_source(package_copy, article, {**metadata, "title_basis": "publisher_page", "publisher_basis":
                       "publisher_page", "authors_basis": "publisher_page"}, source_name="a", dry_run=True)  # fmt: skip
    assert given.summary()["assumed"] == [] and given.added["source_authors"][0]["basis"] == "publisher_page"
    with pytest.raises(AddError) as wrong:
        add_source(package_copy, article, {**metadata, "url_basis": "memory"}, source_name="a", dry_run=True)
    assert any(p.column == "url_basis" for p in wrong.value.problems)


def test_a_new_sources_reuse_terms_become_a_licence_of_the_package_and_its_word_tables(
    package_copy: Path, tmp_path: Path
) -> None:
    article = tmp_path / "article.txt"
    article.write_text("A Fourth Article\n\nOfficials met.\n", encoding="utf-8")
    metadata = {
        "source_id": "example-2017-06-04-fourth-article", "title": "A Fourth Article", "publisher": "Example News",
        "url": "https://example.org/d", "published": "2017-06-04", "language": "en",
        "reuse_terms": "Copy freely, naming Example News.",
    }  # fmt: skip
    add_source(package_copy, article, metadata, source_name="article.txt")
    descriptor = json.loads((package_copy / "datapackage.json").read_text(encoding="utf-8"))
    new = next(entry for entry in descriptor["licenses"] if entry.get("sourceIds") == [metadata["source_id"]])
    assert "Copy freely, naming Example News." in new["title"] and new["path"] == "https://example.org/d"
    carrying = [r["name"] for r in descriptor["resources"] if new in r.get("licenses", [])]
    before = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))["resources"]
    assert carrying == [r["name"] for r in before if any(e.get("sourceIds") for e in r.get("licenses", []))]
    assert "spans" in carrying and validate(package_copy).valid
    spans = next(r for r in descriptor["resources"] if r["name"] == "spans")
    spans["licenses"].remove(new)  # a table that copies both texts' words, naming one text's terms
    (package_copy / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
    found = [f for f in validate(package_copy).errors if f.code == "source-terms-unlicensed"]
    assert [(f.table, f.column, f.value) for f in found] == [("sources", "reuse_terms", metadata["source_id"])]
    assert "no licence of table spans in datapackage.json" in found[0].message
