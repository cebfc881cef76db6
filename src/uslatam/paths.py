"""Where things are. Imports nothing else of the package."""

from __future__ import annotations

from pathlib import Path

DESCRIPTOR = "datapackage.json"
MODULE = Path(__file__).resolve().parent
BUNDLED = MODULE / "_package"
"""The copy of the data package a built wheel carries (see setup.py)."""
CHECKOUT = MODULE.parent.parent
"""The repository root, when running from a clone (src layout)."""

# What a wheel carries: the data package and what must travel with it.
PACKAGE_FILES = ("datapackage.json", "CITATION.cff", "CHANGELOG.md")
PACKAGE_FOLDERS = ("data", "schemas", "sources", "LICENSES")
ZENODO_FILE = ".zenodo.json"  # the archive's metadata, written by uslatam release
TOOL_HIDDEN_FILES = frozenset({ZENODO_FILE})  # hidden files at the top that the tool itself names and writes


def own_package() -> Path:
    """This version's data: the wheel's bundled copy, or the clone the code runs from."""
    if (BUNDLED / DESCRIPTOR).is_file():
        return BUNDLED
    return CHECKOUT


def default_package(cwd: Path | None = None) -> Path:
    """For commands: the package in the working folder if there is one, else this version's."""
    here = cwd or Path(".")
    return here if (here / DESCRIPTOR).is_file() else own_package()
