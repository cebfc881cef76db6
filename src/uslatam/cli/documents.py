"""The generated documents: each file and what writes it. ``uslatam docs`` and the drift tests read this."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..docs import codes_markdown, data_dictionary_markdown, with_tables
from .reference import cli_markdown


def _readme(root: Path) -> str:
    return with_tables((root / "README.md").read_text(encoding="utf-8"), root)


# path inside the package -> the document's text, made from the package at root
DOCUMENTS: dict[str, Callable[[Path], str]] = {
    "docs/error-codes.md": lambda root: codes_markdown(),
    "docs/data-dictionary.md": data_dictionary_markdown,
    "docs/cli.md": lambda root: cli_markdown(),
    "README.md": _readme,
}
