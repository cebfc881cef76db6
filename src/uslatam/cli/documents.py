"""The generated documents: each file and what writes it. ``uslatam docs`` and the drift tests read this."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..docs import codes_markdown, data_dictionary_markdown, package_file_text, with_tables
from .reference import cli_markdown


def _readme(root: Path) -> str:
    return with_tables(package_file_text(root, "README.md"), root)


# path inside the package -> the document's text, made from the package at root
DOCUMENTS: dict[str, Callable[[Path], str]] = {
    "docs/error-codes.md": lambda root: codes_markdown(),
    "docs/data-dictionary.md": data_dictionary_markdown,
    "docs/cli.md": lambda root: cli_markdown(),
    "README.md": _readme,
}
