from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A writable copy of the real package (data, schemas, sources, descriptor, citation, changelog)."""
    target = tmp_path / "package"
    target.mkdir()
    for name in ("datapackage.json", "CITATION.cff", "CHANGELOG.md"):
        shutil.copy2(ROOT / name, target / name)
    for folder in ("data", "schemas", "sources"):
        shutil.copytree(ROOT / folder, target / folder)
    return target
