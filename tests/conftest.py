from __future__ import annotations

from pathlib import Path

import pytest

from uslatam.package import copy_package

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def git_checkout(folder: Path) -> Path:
    """Make ``folder`` a git repository with one commit of all it holds, as a maintainer's clone has.

    Its releases are then in its history: validate compares with them (a copy without git gets
    release-history-missing instead, which tests/test_diff_release_cite.py covers).
    """
    import subprocess

    for args in (
        ["init", "-q"],
        ["config", "user.name", "test"],  # local: the tool's own commits (uslatam release) need one too
        ["config", "user.email", "test@example.org"],
        ["config", "commit.gpgsign", "false"],
        ["add", "-A"],
        ["commit", "-qm", "the package as released"],
    ):
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)
    return folder


def expected_history_findings() -> list[str]:
    """What validating this checkout says of its history: nothing in a full clone; a warning when shallow or not git."""
    import subprocess

    shallow = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
    )
    return [] if shallow.returncode == 0 and shallow.stdout.strip() == "false" else ["release-history-missing"]


def as_released(folder: Path) -> Path:
    """Make the checkout's one commit hold the folder as it is now: the state its release is (for set-ups)."""
    import subprocess

    for args in (["add", "-A"], ["commit", "-q", "--amend", "-m", "the package as released"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)
    return folder


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A writable checkout of the real package (data, schemas, sources, descriptor, citation, changelog)."""
    return git_checkout(copy_package(ROOT, tmp_path / "package"))


def record(kind: str, **data) -> None:
    """Append one result to the reliability log (scripts/reliability_report.py sets its path)."""
    import json
    import os

    log = os.environ.get("USLATAM_RELIABILITY_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **data}) + "\n")


def _hypothesis_profiles() -> None:
    """HYPOTHESIS_PROFILE=thorough (property tests) or fuzz (fuzzing) for the long documented runs."""
    import os

    from hypothesis import HealthCheck, settings

    common = {
        "deadline": None,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
        "derandomize": True,
    }
    settings.register_profile("ci", max_examples=25, **common)  # the default suite; thorough for the long run
    settings.register_profile("thorough", max_examples=500, **common)
    settings.register_profile("fuzz", max_examples=20_000, **{**common, "derandomize": False})
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_hypothesis_profiles()


def uslatam(*args: str, cwd: Path = ROOT, env: dict | None = None, stdin: str | None = None):
    """Run the uslatam command in a subprocess, as a user would."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "uslatam.cli.app", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        input=stdin,
        env={**os.environ, **(env or {})},
    )
