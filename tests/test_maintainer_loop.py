"""The maintainer's loop, end to end: the README's "Add an article" walk-through, run as written.

A second (invented) article goes in with add-source and add, evidence by words; the package
validates, diff shows the change, release commits and tags it; a fresh clone of the tag
validates; every citation format names both articles; and CI's path is repeated in a shallow
clone (the skipped history check is a warning, an error with --require-history).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from uslatam.package import copy_package

from .conftest import ROOT, git_checkout

SECTION = "### Add an article: a walk-through"
BLOCK = re.compile(r"<!-- walk-through: (\S+) -->\n```[a-z]*\n(.*?)```", re.DOTALL)
NEW_SOURCE_URL = "https://example.org/border-talks"


def walk_through() -> dict[str, str]:
    """The README's walk-through blocks: file name (or ``run``) to its text."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return {name: text for name, text in BLOCK.findall(section)}


def test_the_walk_through_has_its_files_and_commands() -> None:
    blocks = walk_through()
    assert set(blocks) == {"article.txt", "source.yaml", "facts.yaml", "run"}
    facts = blocks["facts.yaml"]
    for table in ("entities:", "events:", "event_participants:", "quotes:", "statistics:", "claims:"):
        assert f"\n{table}\n" in facts, f"the walk-through adds no {table[:-1]}"


@pytest.fixture
def maintainer_clone(tmp_path: Path) -> Path:
    """A maintainer's clone: the package with the README and the generated documents, in git."""
    clone = copy_package(ROOT, tmp_path / "clone")
    for name in ("README.md", ".gitignore"):
        shutil.copy2(ROOT / name, clone / name)
    shutil.copytree(ROOT / "docs", clone / "docs")
    return git_checkout(clone)


def _run(script: str, cwd: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"},
    )


def test_the_readme_walk_through_adds_releases_and_cites_a_second_article(
    maintainer_clone: Path, tmp_path: Path
) -> None:
    import bibtexparser
    import rispy
    import yaml

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uslatam").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m uslatam.cli.app "$@"\n')
    (bin_dir / "uslatam").chmod(0o755)
    blocks = walk_through()
    for name in ("article.txt", "source.yaml", "facts.yaml"):
        (maintainer_clone / name).write_text(blocks[name], encoding="utf-8")
    subprocess.run(["git", "-C", str(maintainer_clone), "add", "-A"], check=True)  # the files a PR brings
    subprocess.run(["git", "-C", str(maintainer_clone), "commit", "-qm", "inputs"], check=True)

    ran = _run(blocks["run"], maintainer_clone, bin_dir)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "Traceback" not in ran.stderr
    assert "would add:" in ran.stdout and "to claims" in ran.stdout and "new span" in ran.stdout
    assert "assumed title_basis: text" in ran.stdout  # what the command chose is said, not silent

    descriptor = json.loads((maintainer_clone / "datapackage.json").read_text(encoding="utf-8"))
    tag = "v" + descriptor["version"]
    assert descriptor["version"] != json.loads((ROOT / "datapackage.json").read_text())["version"]
    tags = subprocess.run(["git", "-C", str(maintainer_clone), "tag"], capture_output=True, text=True).stdout.split()
    assert tag in tags
    release_check = tmp_path / "release-check"  # the walk-through's ../release-check
    assert (release_check / "sources" / "example-2017-06-02-border-talks.txt").read_text(encoding="utf-8") == blocks[
        "article.txt"
    ]
    status = subprocess.run(["git", "-C", str(maintainer_clone), "status", "--porcelain"], capture_output=True,
                            text=True).stdout  # fmt: skip
    assert status == "", f"release left files out of its commit:\n{status}"

    released = json.loads((release_check / "datapackage.json").read_text(encoding="utf-8"))
    licensed = {source_id for entry in released["licenses"] for source_id in entry.get("sourceIds", [])}
    assert "example-2017-06-02-border-talks" in licensed and len(licensed) == 2  # each text's own terms
    sources = {line.split(",")[0] for line in (release_check / "data" / "sources.csv").read_text().splitlines()[1:]}
    assert len(sources) == 2
    cff = yaml.safe_load((release_check / "CITATION.cff").read_text(encoding="utf-8"))
    assert NEW_SOURCE_URL in {entry.get("url") for entry in cff["references"]} and len(cff["references"]) >= 2
    cited = {}
    for output_format in ("bibtex", "ris", "csl-json", "apa", "cff"):
        result = _run(f"uslatam cite --format {output_format}", release_check, bin_dir)
        assert result.returncode == 0, result.stderr
        cited[output_format] = result.stdout
    bibtex_urls = {e.fields_dict["url"].value for e in bibtexparser.parse_string(cited["bibtex"]).entries
                   if "url" in e.fields_dict}  # fmt: skip
    assert NEW_SOURCE_URL in bibtex_urls and len(bibtex_urls) >= 3  # the data and both articles
    assert NEW_SOURCE_URL in {url for entry in rispy.loads(cited["ris"]) for url in entry.get("urls", [])}
    assert NEW_SOURCE_URL in {item.get("URL") for item in json.loads(cited["csl-json"])}
    assert "Border Talks Resume in Ciudad Ejemplo" in cited["apa"]
    assert yaml.safe_load(cited["cff"]) == cff

    # CI's path: a pull request after the release, checked out shallow and in full
    subprocess.run(["git", "-C", str(maintainer_clone), "commit", "-q", "--allow-empty", "-m", "a pull request"],
                   check=True)  # fmt: skip
    shallow, full = tmp_path / "shallow", tmp_path / "full"
    for target, depth in ((shallow, ["--depth", "1"]), (full, [])):
        subprocess.run(["git", "clone", "-q", *depth, f"file://{maintainer_clone}", str(target)], check=True)
    warned = _run("uslatam validate --format json", shallow, bin_dir)
    assert warned.returncode == 0 and "release-history-missing" in {
        f["code"] for f in json.loads(warned.stdout)["findings"]
    }
    assert _run("uslatam validate --require-history", shallow, bin_dir).returncode == 1
    checked = _run("uslatam validate --require-history --format json", full, bin_dir)
    assert checked.returncode == 0, checked.stdout[-2000:]
    assert "release-history-missing" not in {f["code"] for f in json.loads(checked.stdout)["findings"]}
