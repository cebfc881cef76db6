"""CITATION.cff: valid CFF 1.2.0, a dataset, in step with the descriptor, citing the article."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from .conftest import ROOT

CITATION = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
DESCRIPTOR = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def cff_schema(tmp_path_factory) -> dict:
    """The CFF 1.2.0 JSON schema as cffconvert ships it (cffconvert itself pins an old jsonschema)."""
    folder = tmp_path_factory.mktemp("cffconvert")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "cffconvert==2.0.0",
            "-d",
            str(folder),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(Path(folder).glob("cffconvert-2.0.0-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read("cffconvert/schemas/1.2.0/schema.json"))


def test_citation_is_valid_cff_1_2_0(cff_schema: dict) -> None:
    # CFF dates are YAML dates; the schema wants their ISO text
    document = json.loads(json.dumps(CITATION, default=str))
    jsonschema.validate(document, cff_schema)


def test_citation_is_a_dataset_with_the_descriptor_version() -> None:
    assert CITATION["cff-version"] == "1.2.0"
    assert CITATION["type"] == "dataset"
    assert CITATION["version"] == DESCRIPTOR["version"]


def test_the_article_is_a_reference_not_the_preferred_citation() -> None:
    assert "preferred-citation" not in CITATION
    article = CITATION["references"][0]
    assert article["title"] == "Mexico, Colombia Meetings Show US Security Policy on Unsure Footing"
    assert article["publisher"]["name"] == "InSight Crime"
