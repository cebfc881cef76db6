"""Archive-ready releases: one locator, Zenodo's metadata from the same sources of truth, and a
release zip that is byte-reproducible and verifies, read back by unzip and frictionless."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from uslatam.archive import (
    ARCHIVE_FILES,
    CHECKSUMS,
    ZENODO_FILE,
    ArchiveError,
    archive_members,
    build_archive,
    locator_disagreements,
    package_citation,
    zenodo_json,
)
from uslatam.release import release
from uslatam.validate import validate

from .conftest import ROOT, uslatam
from .test_diff_release_cite import DAY, git, repo  # noqa: F401  (the repo fixture)


@pytest.fixture
def full_copy(package_copy: Path) -> Path:
    """The package copy with everything the archive carries beside the data."""
    for name in (*ARCHIVE_FILES, ZENODO_FILE):
        (package_copy / name).parent.mkdir(parents=True, exist_ok=True)
        (package_copy / name).write_bytes((ROOT / name).read_bytes())
    return package_copy


def _files(package: Path) -> tuple[dict, dict, list[dict[str, str]]]:
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    cff = yaml.safe_load((package / "CITATION.cff").read_text(encoding="utf-8"))
    sources = list(csv.DictReader(io.StringIO((package / "data" / "sources.csv").read_text(encoding="utf-8"))))
    return descriptor, cff, sources


def test_every_locator_is_the_descriptor_homepage() -> None:
    descriptor, cff, _ = _files(ROOT)
    assert re.match(r"^https?://", descriptor["homepage"])
    copies = {"id": descriptor["id"], "url": cff["url"], "repository-code": cff["repository-code"]}
    assert copies == dict.fromkeys(copies, descriptor["homepage"])
    assert locator_disagreements(descriptor, cff) == []


def test_zenodo_metadata_is_current_and_says_what_its_sources_say() -> None:
    committed = (ROOT / ZENODO_FILE).read_bytes()
    assert committed == zenodo_json(package_citation(ROOT)), "regenerate with uslatam release (or zenodo_json)"
    zenodo = json.loads(committed)
    descriptor, cff, sources = _files(ROOT)
    assert zenodo["upload_type"] == "dataset" and zenodo["access_right"] == "open"
    assert (zenodo["title"], zenodo["version"]) == (cff["title"], descriptor["version"])
    assert zenodo["publication_date"] == cff["date-released"].isoformat()
    assert [c["name"] for c in zenodo["creators"]] == [a["name"] for a in cff["authors"]]
    assert zenodo["license"] == cff["license"] and zenodo["keywords"] == cff["keywords"]
    related = {(r["identifier"], r["relation"]) for r in zenodo["related_identifiers"]}
    assert (descriptor["homepage"], "isSupplementTo") in related
    assert {(s["url"], "isDerivedFrom") for s in sources} <= related
    for licence in descriptor["licenses"]:  # the stored words' own terms travel with the record
        assert licence["title"] in zenodo["notes"]
    assert "doi" not in zenodo  # Zenodo mints it; none is invented here


def test_release_derives_the_locators_and_the_zenodo_metadata(repo: Path) -> None:  # noqa: F811
    descriptor = json.loads((repo / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["homepage"] = "https://example.org/moved/us-latam-security-facts"
    (repo / "datapackage.json").write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", "utf-8")
    cff_text = (repo / "CITATION.cff").read_text(encoding="utf-8")
    (repo / "CITATION.cff").write_text(re.sub(r"(?m)^(url|repository-code): .*\n", "", cff_text), "utf-8")
    (repo / ZENODO_FILE).unlink(missing_ok=True)
    git(repo, "commit", "-qam", "moved")
    release(repo, "major", today=DAY)
    descriptor, cff, _ = _files(repo)
    assert (
        descriptor["id"] == cff["url"] == cff["repository-code"] == "https://example.org/moved/us-latam-security-facts"
    )
    zenodo = json.loads((repo / ZENODO_FILE).read_text(encoding="utf-8"))
    assert (zenodo["version"], zenodo["publication_date"]) == ("1.0.0", DAY.isoformat())
    assert zenodo["related_identifiers"][0]["identifier"] == descriptor["homepage"]
    assert validate(repo).valid


def _build(package: Path, out: Path) -> tuple[bytes, str]:
    zip_path, sha_path = build_archive(package, out)
    return zip_path.read_bytes(), sha_path.read_text(encoding="utf-8")


def test_the_release_zip_is_byte_reproducible(full_copy: Path, tmp_path: Path) -> None:
    first, first_sum = _build(ROOT, tmp_path / "a")
    for file in (full_copy / "data").iterdir():  # other times and modes on disk change nothing
        os.utime(file, (1_000_000_000, 1_000_000_000))
        file.chmod(0o600)
    second, second_sum = _build(full_copy, tmp_path / "b")
    assert first == second and first_sum == second_sum
    digest, name = first_sum.split()
    assert digest == hashlib.sha256(first).hexdigest() and name == (tmp_path / "a" / name).name


def test_the_release_zip_unpacks_verifies_and_validates(tmp_path: Path) -> None:
    import frictionless

    zip_path, _ = build_archive(ROOT, tmp_path / "dist")
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        archive.extractall(tmp_path / "unpacked")
    unpacked = tmp_path / "unpacked"
    assert sorted(names) == sorted({*archive_members(ROOT), ZENODO_FILE, CHECKSUMS})
    lines = (unpacked / CHECKSUMS).read_text(encoding="utf-8").splitlines()
    listed = {}
    for line in lines:  # sha256sum's format: "<hex>  <path>"
        digest, path = line.split("  ", 1)
        listed[path] = digest
        assert hashlib.sha256((unpacked / path).read_bytes()).hexdigest() == digest, path
    assert set(listed) == set(names) - {CHECKSUMS}
    descriptor = json.loads((unpacked / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        assert resource["path"] in listed and resource["schema"] in listed
    assert validate(unpacked).valid
    assert frictionless.validate(str(zip_path)).valid  # frictionless reads the zip itself


def test_archive_refuses_stale_metadata_and_unpublishable_tags(full_copy: Path, tmp_path: Path) -> None:
    package_copy = full_copy
    zenodo = json.loads((package_copy / ZENODO_FILE).read_text(encoding="utf-8"))
    (package_copy / ZENODO_FILE).write_text(json.dumps({**zenodo, "version": "0.0.1"}), encoding="utf-8")
    with pytest.raises(ArchiveError, match=r"\.zenodo\.json is not what"):
        build_archive(package_copy, tmp_path)
    (package_copy / ZENODO_FILE).unlink()
    refused = uslatam("archive", str(tmp_path), "--package", str(package_copy), "--tag", "v9.9.9")
    assert refused.returncode == 1 and "does not name the package's version" in refused.stderr
    version = json.loads((package_copy / "datapackage.json").read_text(encoding="utf-8"))["version"]
    placeholder = uslatam("archive", str(tmp_path), "--package", str(package_copy), "--tag", f"v{version}")
    assert placeholder.returncode == 1 and "placeholder" in placeholder.stderr
    cff = (package_copy / "CITATION.cff").read_text(encoding="utf-8")
    (package_copy / "CITATION.cff").write_text(cff.replace("url: ", "url: https://elsewhere.example.org #", 1))
    disagree = uslatam("archive", str(tmp_path), "--package", str(package_copy))
    assert disagree.returncode == 1 and "CITATION.cff url is" in disagree.stderr
    assert not list(tmp_path.glob("*.zip"))


def test_archive_refuses_a_package_whose_files_it_cannot_carry(full_copy: Path, tmp_path: Path) -> None:
    text = next((full_copy / "sources").iterdir())
    outside = tmp_path / "outside.txt"
    outside.write_bytes(text.read_bytes())
    text.unlink()
    text.symlink_to(outside)  # a symbolic link is never followed into the archive
    # refused by validation first (an archive is a release), naming the file
    with pytest.raises(ArchiveError, match=f"does not validate .*sources/{text.name}.* leads outside the package"):
        build_archive(full_copy, tmp_path / "dist")


def test_the_release_workflow_publishes_the_archive_on_a_version_tag() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key "on" as true
    assert set(triggers) == {"push"} and triggers["push"]["tags"] == ["v*"]
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write"}
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert 'uslatam archive dist --tag "$GITHUB_REF_NAME"' in runs
    publish = runs[-1]
    assert publish.startswith('gh release create "$GITHUB_REF_NAME" dist/*') and "--verify-tag" in publish


@pytest.mark.parametrize("linked", ["README.md", "LICENSES/DATA.md"])
def test_a_symlinked_readme_or_licence_is_refused_not_left_out(full_copy: Path, tmp_path: Path, linked: str) -> None:
    """Files validation does not read (the README, a licence text) are still the zip's: a link is named, not dropped."""
    target = full_copy / linked
    outside = tmp_path / "outside.md"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(ArchiveError, match=f"{linked}: a symbolic link"):
        build_archive(full_copy, tmp_path / "dist")
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
