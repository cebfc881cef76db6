"""Citations of a version of the package, from CITATION.cff (the one owner of how to cite)."""

from __future__ import annotations

import datetime
from pathlib import Path

from .package import find_root

FORMATS = ("bibtex", "apa", "ris", "cff")


class CiteError(ValueError):
    pass


def citation_text(root: str | Path, version: str | None = None) -> str:
    """CITATION.cff as it is now, or as it was released at ``version``."""
    from .history import VersionError, file_at, release_commit

    root = find_root(root)
    if version is None:
        from .boundary import DEFAULT_LIMITS, Refused, package_text

        try:
            return package_text(root, "CITATION.cff", what="the citation", limit=DEFAULT_LIMITS.max_text_bytes)
        except Refused as refused:
            raise CiteError(str(refused)) from None
    try:
        commit = release_commit(root, version)
        if commit is None:
            raise CiteError(f"version {version} was never released (no commit has it in datapackage.json)")
        return file_at(root, commit, "CITATION.cff").decode("utf-8")
    except VersionError as error:
        raise CiteError(f"cannot read version {version}: {error}") from None


def _names(people: list[dict]) -> list[tuple[str, str]]:
    """(family or entity name, given names) of each author."""
    return [(p.get("family-names") or p.get("name", ""), p.get("given-names", "")) for p in people or []]


def _apa_names(authors: list[tuple[str, str]]) -> str:
    names = [
        f"{family}, {' '.join(part[0] + '.' for part in given.split())}" if given else family
        for family, given in authors
    ]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + ", & " + names[-1]


def _year(value) -> str:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return str(value.year)
    return str(value)[:4] if value else "n.d."


def render(cff_text: str, fmt: str) -> str:
    """The citation in BibTeX, APA, RIS or CFF, with the analysed article as a reference."""
    from .package import UnsafeYaml, load_yaml

    if fmt == "cff":
        return cff_text
    if fmt not in FORMATS:
        raise CiteError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        cff = load_yaml(cff_text)
    except UnsafeYaml as error:
        raise CiteError(f"CITATION.cff cannot be read: {error}") from None
    version = str(cff.get("version", ""))
    released = cff.get("date-released")
    year = _year(released)
    authors = _names(cff.get("authors", []))
    title = cff["title"]
    url = cff.get("url") or cff.get("repository-code") or ""
    article = (cff.get("references") or [None])[0]
    if fmt == "bibtex":
        key = f"uslatam{version.replace('.', '_')}"
        people = " and ".join(f"{{{family}}}" if not given else f"{family}, {given}" for family, given in authors)
        lines = [
            f"@misc{{{key},",
            f"  title = {{{title}}},",
            f"  author = {{{people}}},",
            f"  year = {{{year}}},",
            f"  version = {{{version}}},",
            "  note = {Dataset}",
        ]
        if url:
            lines.append(f"  url = {{{url}}}")
        entry = ",\n".join(lines) + "\n}"
        if article:
            a_people = " and ".join(f"{f}, {g}" if g else f"{{{f}}}" for f, g in _names(article.get("authors")))
            entry += (
                "\n\n@article{source_article,\n"
                f"  title = {{{article['title']}}},\n  author = {{{a_people}}},\n"
                f"  year = {{{_year(article.get('date-published'))}}},\n"
                f"  publisher = {{{(article.get('publisher') or {}).get('name', '')}}},\n"
                f"  url = {{{article.get('url', '')}}}\n}}"
            )
        return entry
    if fmt == "apa":
        people = _apa_names(authors)
        text = f"{people} ({year}). {title} (Version {version}) [Data set]."
        if url:
            text += f" {url}"
        if article:
            a_people = _apa_names(_names(article.get("authors")))
            published = article.get("date-published")
            text += (
                f"\n\nSource analysed: {a_people} ({_year(published)}). {article['title']}. "
                f"{(article.get('publisher') or {}).get('name', '')}. {article.get('url', '')}"
            )
        return text
    lines = ["TY  - DATA", f"TI  - {title}"] + [f"AU  - {f}, {g}" if g else f"AU  - {f}" for f, g in authors]
    lines += [f"PY  - {year}", f"ET  - {version}"]
    if url:
        lines.append(f"UR  - {url}")
    if article:
        lines.append(
            f"N1  - Source analysed: {article['title']} ({(article.get('publisher') or {}).get('name', '')}, "
            f"{article.get('date-published')}), {article.get('url', '')}"
        )
    lines.append("ER  - ")
    return "\n".join(lines)
