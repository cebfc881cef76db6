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


def package_here(cwd: Path | None = None) -> Path | None:
    """The package whose folder holds the working folder: it, or the nearest folder above with a descriptor."""
    here = cwd or Path(".")
    for folder in (here, *here.absolute().parents):
        if (folder / DESCRIPTOR).is_file():
            return folder
    return None


def default_package(cwd: Path | None = None) -> Path:
    """For commands that read: the package here or above (see :func:`package_here`), else this version's."""
    found = package_here(cwd)
    return found if found is not None else own_package()
