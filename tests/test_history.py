"""Release history: the CHANGELOG's released versions (git history is tested with releases and cite)."""

from __future__ import annotations

from uslatam.history import released_versions


def test_released_versions_skip_unreleased() -> None:
    changelog = "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2026-01-02\n\n## [1.0.0] - 2026-01-01\n"
    assert released_versions(changelog) == ["1.1.0", "1.0.0"]
