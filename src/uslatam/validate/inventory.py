"""Layer: the package's files against what it declares: nothing undeclared, and a citation.

A CSV under ``data/`` that no resource names is data nobody validates; a text under
``sources/`` that no source row names is evidence nobody cites. Both are findings,
and so is a package without ``CITATION.cff``. Folders are listed without following
symlinks, hidden names (``.uslatam/``, editors' swap files) are skipped, and the
listing is bounded.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

from ..boundary import Limits, Refused, package_bytes, regular_file_size
from ..package import Package
from ..report import Finding

ENGINE = "inventory"
CITATION = "CITATION.cff"
SOURCES_TABLE, TEXT_COLUMN = "sources", "text_path"
MAX_LISTED = 10_000  # entries looked at under data/ and sources/; far above any real package
MAX_REPORTED = 50


def check(package: Package, limits: Limits) -> list[Finding]:
    findings: list[Finding] = []
    if isinstance(regular_file_size(package.root / CITATION, name=CITATION), Finding):
        findings.append(
            Finding(
                "missing-citation", f"the package has no {CITATION} (a regular file)", file=CITATION, found_by=(ENGINE,)
            )
        )
    declared = {entry.get("path") for entry in _resource_entries(package)}
    undeclared = [p for p in _files(package.root, "data") if p.endswith(".csv") and p not in declared]
    texts = _declared_texts(package, limits)
    if texts is not None:
        undeclared += [p for p in _files(package.root, "sources") if p not in texts]
    for relpath in undeclared[:MAX_REPORTED]:
        kind = "source row" if relpath.startswith("sources/") else "resource"
        findings.append(
            Finding(
                "undeclared-file",
                f"{relpath} is named by no {kind} of the package",
                file=relpath,
                found_by=(ENGINE,),
            )
        )
    if len(undeclared) > MAX_REPORTED:
        findings.append(
            Finding(
                "undeclared-file",
                f"and {len(undeclared) - MAX_REPORTED} more undeclared files",
                file="data/",
                found_by=(ENGINE,),
            )
        )
    return findings


def _resource_entries(package: Package) -> list[dict]:
    resources = package.descriptor.get("resources")
    return [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []


def _files(root: Path, folder: str) -> Iterator[str]:
    """Relative paths of the entries under ``root/folder`` that are not folders, symlinks not followed."""
    start = root / folder
    if start.is_symlink() or not start.is_dir():
        return
    pending, listed = [start], 0
    while pending:
        current = pending.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            listed += 1
            if listed > MAX_LISTED:
                return
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            else:
                yield Path(entry.path).relative_to(root).as_posix()


def _declared_texts(package: Package, limits: Limits) -> set[str] | None:
    """The text paths the sources table names; None when there is no readable sources table to ask."""
    resource = package.resource(SOURCES_TABLE)
    if resource is None:
        return None
    try:
        data = package_bytes(package.root, resource.path, what="the sources table", limit=limits.max_file_bytes)
        rows = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
        return {row.get(TEXT_COLUMN) or "" for row in rows}
    except (Refused, UnicodeDecodeError, csv.Error):
        return None  # the structure layer reports what is wrong with the table itself
