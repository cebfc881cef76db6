"""Release history: the CHANGELOG's released versions (git history is tested with releases and cite)."""

from __future__ import annotations

from uslatam.history import released_versions


def test_released_versions_skip_unreleased() -> None:
    changelog = "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2026-01-02\n\n## [1.0.0] - 2026-01-01\n"
    assert released_versions(changelog) == ["1.1.0", "1.0.0"]


def test_git_objects_reads_many_files_in_one_batch_as_git_show_does(package_copy) -> None:
    from uslatam.history import git, git_objects

    wanted = [
        "HEAD:datapackage.json",
        "HEAD:data/spans.csv",
        "HEAD:no-such-file",
        "HEAD:data",
        "HEAD:schemas/events.json",
    ]
    found = git_objects(package_copy, wanted)
    assert found[0] == git(package_copy, "show", "HEAD:datapackage.json")
    assert found[1] == git(package_copy, "show", "HEAD:data/spans.csv")
    assert found[2] is None and found[3] is None  # missing, and a tree rather than a file
    assert found[4] == git(package_copy, "show", "HEAD:schemas/events.json")
    assert git_objects(package_copy, []) == []


def test_a_revision_snapshot_equals_the_folder_it_was_committed_from(package_copy) -> None:
    from uslatam.history import read_version

    from_git = read_version("HEAD", root=package_copy)
    from_folder = read_version(package_copy)
    assert from_git.files == from_folder.files and from_git.tables == from_folder.tables
