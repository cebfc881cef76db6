"""Citations of a version of the package and of every source it draws on.

The dataset's entry comes from ``CITATION.cff`` (title, authors, version, release date,
locator); each source's entry comes from the data (``sources`` and ``source_authors``),
as they were at that version. The same works are written as BibTeX, RIS, CSL-JSON or APA.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .package import DESCRIPTOR, find_root
from .units import MONTH_NAMES

FORMATS = ("bibtex", "ris", "csl-json", "apa", "cff")
CITATION_FILE = "CITATION.cff"
MAX_TABLE_BYTES = 50 * 1024 * 1024  # sources and authors are small; a larger file is refused, not read


class CiteError(ValueError):
    pass


@dataclass(frozen=True)
class Person:
    """A personal name split into family and given names, or a name kept whole (an organisation)."""

    family: str = ""
    given: str = ""
    literal: str = ""

    @property
    def display(self) -> str:
        return self.literal or f"{self.given} {self.family}".strip()


@dataclass(frozen=True)
class Work:
    key: str
    kind: str  # "dataset" or "webpage" (every source has a publisher's address)
    title: str
    authors: tuple[Person, ...]
    issued: datetime.date
    url: str
    version: str | None = None
    publisher: str | None = None
    language: str | None = None
    abstract: str | None = None
    note: str | None = None
    text_path: str | None = None  # a source's stored text in the package


@dataclass(frozen=True)
class Citation:
    cff_text: str
    cff: dict
    descriptor: dict
    dataset: Work
    sources: tuple[Work, ...]

    @property
    def works(self) -> tuple[Work, ...]:
        return (self.dataset, *self.sources)


# --- reading a version ----------------------------------------------------------------------


def _reader(root: Path, version: str | None) -> Callable[[str], bytes]:
    """Reads a package file as it is now, or as it was released at ``version``."""
    from .history import VersionError, file_at, release_commit

    if version is None:
        return lambda relpath: _package_file(root, relpath)
    try:
        commit = release_commit(root, version)
    except VersionError as error:
        raise CiteError(f"cannot read version {version}: {error}") from None
    if commit is None:
        raise CiteError(f"version {version} was never released (no commit has it in {DESCRIPTOR})")
    return lambda relpath: file_at(root, commit, relpath)


def _package_file(root: Path, relpath: str) -> bytes:
    """A file of the package as it is now, through the trust boundary (contained, regular, bounded)."""
    from .boundary import Refused, package_bytes

    try:
        return package_bytes(root, relpath, what=relpath, limit=MAX_TABLE_BYTES + 1)
    except Refused as refused:
        raise CiteError(str(refused)) from None


def _read_text(read: Callable[[str], bytes], relpath: str) -> str:
    from .history import VersionError

    try:
        data = read(relpath)
    except (OSError, VersionError) as error:
        raise CiteError(f"{relpath} cannot be read: {error}") from None
    if len(data) > MAX_TABLE_BYTES:
        raise CiteError(f"{relpath} is {len(data)} bytes; the limit for citing is {MAX_TABLE_BYTES}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CiteError(f"{relpath} is not UTF-8 ({error.reason} at byte {error.start})") from None


def _rows(read: Callable[[str], bytes], descriptor: dict, table: str) -> list[dict[str, str]]:
    resource = next((r for r in descriptor.get("resources", []) if r.get("name") == table), None)
    if resource is None or not isinstance(resource.get("path"), str):
        raise CiteError(f"{DESCRIPTOR} has no {table!r} resource to cite the sources from")
    from .package import check_path

    # the same containment rule as validation, also for a released version read from git
    problem = check_path(Path("/nonexistent-package"), resource["path"], what=f"{table} path")
    if problem:
        raise CiteError(problem.message)
    text = _read_text(read, resource["path"])
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise CiteError(f"{resource['path']} cannot be read as CSV: {error}") from None


def _date(value: object, what: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise CiteError(f"{what} is not an ISO date: {value!r}") from None


_PARTICLE = re.compile(r"^[a-z]")


def split_name(name: str) -> Person:
    """A name as written ("Given Family") split by BibTeX's rule: the family name is the last
    word, together with any lower-case particles before it ("van", "de la"). One word stays whole."""
    words = name.split()
    if len(words) < 2:
        return Person(literal=name.strip())
    start = len(words) - 1
    for index, word in enumerate(words[1:-1], start=1):
        if _PARTICLE.match(word):
            start = index
            break
    return Person(family=" ".join(words[start:]), given=" ".join(words[:start]))


def _cff_person(entry: object) -> Person:
    if not isinstance(entry, dict):
        raise CiteError(f"{CITATION_FILE}: an author is not a mapping: {entry!r}")
    if entry.get("family-names"):
        family = " ".join(str(entry.get(k, "")) for k in ("name-particle", "family-names") if entry.get(k))
        return Person(family=family, given=str(entry.get("given-names", "")))
    if entry.get("name"):
        return Person(literal=str(entry["name"]))
    raise CiteError(f"{CITATION_FILE}: an author has neither family-names nor name")


def _dataset(cff: dict, descriptor: dict) -> Work:
    version = str(cff.get("version") or "")
    if not version:
        raise CiteError(f"{CITATION_FILE} has no version")
    if not cff.get("date-released"):
        raise CiteError(f"{CITATION_FILE} has no date-released: cite a released version (uslatam release makes one)")
    url = cff.get("url") or cff.get("repository-code") or descriptor.get("homepage")
    if not url:
        raise CiteError(
            f"no locator in this version: set 'homepage' in {DESCRIPTOR} (CITATION.cff's url is derived from it); "
            "a version released before the package had one cannot be cited with a locator"
        )
    return Work(
        key=f"{descriptor.get('name') or 'dataset'}-{version}",
        kind="dataset",
        title=str(cff.get("title") or descriptor.get("title") or ""),
        authors=tuple(_cff_person(a) for a in cff.get("authors") or []),
        issued=_date(cff["date-released"], f"{CITATION_FILE} date-released"),
        url=str(url),
        version=version,
        abstract=" ".join(str(cff.get("abstract") or "").split()) or None,
    )


def _sources(read: Callable[[str], bytes], descriptor: dict, dataset: Work) -> tuple[Work, ...]:
    name = descriptor.get("name") or "the dataset"
    authors: dict[str, list[tuple[int, str]]] = {}
    for row in _rows(read, descriptor, "source_authors"):
        try:
            order = int(row.get("author_order") or 0)
        except ValueError:
            raise CiteError(f"source_authors: author_order is not an integer: {row.get('author_order')!r}") from None
        authors.setdefault(row.get("source_id") or "", []).append((order, row.get("name") or ""))
    works = []
    for row in _rows(read, descriptor, "sources"):
        source_id = row.get("source_id") or ""
        if not row.get("url"):
            raise CiteError(f"sources: {source_id} has no url")
        works.append(
            Work(
                key=source_id,
                kind="webpage",
                title=row.get("title") or "",
                authors=tuple(split_name(name) for _, name in sorted(authors.get(source_id, []))),
                issued=_date(row.get("published"), f"sources: {source_id} published"),
                url=row["url"],
                publisher=row.get("publisher") or None,
                language=row.get("language") or None,
                note=f"Source {source_id} of {name} {dataset.version}",
                text_path=row.get("text_path") or None,
            )
        )
    return tuple(works)


def citation(root: str | Path, version: str | None = None) -> Citation:
    """The dataset at ``version`` (default: as it is now) and every source it cites."""
    root = find_root(root)
    return citation_from(_reader(root, version))


def citation_from(read: Callable[[str], bytes]) -> Citation:
    """The citation of the package whose files ``read`` returns (by path relative to its root)."""
    cff_text = _read_text(read, CITATION_FILE)
    cff = read_cff(cff_text)
    try:
        descriptor = json.loads(_read_text(read, DESCRIPTOR))
    except ValueError as error:
        raise CiteError(f"{DESCRIPTOR} is not JSON: {error}") from None
    if not isinstance(descriptor, dict):
        raise CiteError(f"{DESCRIPTOR} must be a JSON object")
    dataset = _dataset(cff, descriptor)
    return Citation(
        cff_text=cff_text,
        cff=cff,
        descriptor=descriptor,
        dataset=dataset,
        sources=_sources(read, descriptor, dataset),
    )


def read_cff(text: str) -> dict:
    """CITATION.cff's mapping (untrusted YAML: size capped, no aliases)."""
    from .package import UnsafeYaml, load_yaml

    try:
        cff = load_yaml(text)
    except UnsafeYaml as error:
        raise CiteError(f"{CITATION_FILE} cannot be read: {error}") from None
    if not isinstance(cff, dict):
        raise CiteError(f"{CITATION_FILE} must be a mapping")
    return cff


# --- formats --------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in " ".join(text.split()))


def _bibtex_name(person: Person) -> str:
    if person.literal:
        return "{" + _latex(person.literal) + "}"  # braces: one name, not split into parts
    return f"{_latex(person.family)}, {_latex(person.given)}" if person.given else _latex(person.family)


def _bibtex_key(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", key)


def _bibtex_url(url: str) -> str:
    # a URL is kept verbatim by biblatex and the url package; only braces could break the entry
    return url.replace("{", "%7B").replace("}", "%7D")


def to_bibtex(work: Work) -> str:
    fields = [
        ("author", " and ".join(_bibtex_name(p) for p in work.authors)),
        ("title", "{" + _latex(work.title) + "}"),  # double braces keep the title's capitals
        ("year", str(work.issued.year)),
        ("month", MONTH_NAMES[work.issued.month - 1][:3].lower()),
        ("date", work.issued.isoformat()),
    ]
    if work.version:
        fields.append(("version", _latex(work.version)))
    if work.publisher:
        fields.append(("publisher", _latex(work.publisher)))
    fields.append(("url", _bibtex_url(work.url)))
    if work.language:
        fields.append(("language", _latex(work.language)))
    note = "Data set" + (f", version {work.version}" if work.version else "") if work.kind == "dataset" else work.note
    if note:
        fields.append(("note", _latex(note)))
    lines = [f"@misc{{{_bibtex_key(work.key)},"]
    for name, value in fields:
        if name == "month":
            lines.append(f"  {name} = {value},")  # BibTeX's month macro, no braces
        elif value:
            lines.append(f"  {name} = {{{value}}},")
    lines.append("}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def to_ris(work: Work) -> str:
    tags: list[tuple[str, str]] = [("TY", "DATA" if work.kind == "dataset" else "ELEC"), ("ID", work.key)]
    for person in work.authors:
        tags.append(("AU", person.literal or (f"{person.family}, {person.given}" if person.given else person.family)))
    tags += [
        ("TI", work.title),
        ("PY", str(work.issued.year)),
        ("DA", work.issued.strftime("%Y/%m/%d")),
    ]
    if work.version:
        tags.append(("ET", work.version))
    if work.publisher:
        tags.append(("PB", work.publisher))
    tags.append(("UR", work.url))
    if work.language:
        tags.append(("LA", work.language))
    if work.abstract:
        tags.append(("AB", work.abstract))
    if work.note:
        tags.append(("N1", work.note))
    lines = [f"{tag}  - {_one_line(value)}" for tag, value in tags if _one_line(value)]
    return "\n".join([*lines, "ER  - "])


def to_csl(work: Work) -> dict:
    item: dict = {
        "id": work.key,
        "type": work.kind,
        "title": work.title,
        "author": [
            {"literal": p.literal} if p.literal else {"family": p.family, "given": p.given} for p in work.authors
        ],
        "issued": {"date-parts": [[work.issued.year, work.issued.month, work.issued.day]]},
        "URL": work.url,
    }
    if work.version:
        item["version"] = work.version
    if work.publisher:
        item["publisher"] = work.publisher
    if work.language:
        item["language"] = work.language
    if work.abstract:
        item["abstract"] = work.abstract
    if work.note:
        item["note"] = work.note
    return item


def _apa_person(person: Person) -> str:
    if person.literal:
        return person.literal
    initials = " ".join(
        "-".join(part[0] + "." for part in word.split("-") if part) for word in person.given.split() if word
    )
    return f"{person.family}, {initials}" if initials else person.family


def apa_authors(people: tuple[Person, ...]) -> str:
    """APA 7: up to 20 names, the last after '&'; from 21, the first 19, an ellipsis and the last."""
    names = [_apa_person(p) for p in people]
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    if len(names) > 20:
        return ", ".join(names[:19]) + ", . . . " + names[-1]
    return ", ".join(names[:-1]) + ", & " + names[-1]


def _sentence(text: str) -> str:
    text = _one_line(text)
    return text if text.endswith((".", "?", "!")) else text + "."


def to_apa(work: Work) -> str:
    date = f"({work.issued.year}, {MONTH_NAMES[work.issued.month - 1]} {work.issued.day})"
    authors = apa_authors(work.authors)
    title = _one_line(work.title)
    if work.kind == "dataset":
        title = _sentence(f"{title} (Version {work.version}) [Data set]")
    else:
        title = _sentence(title)
    parts = [_sentence(authors) if authors else None, _sentence(date), title]
    # APA leaves out the publisher when it is the author
    if work.publisher and work.publisher not in (p.display for p in work.authors):
        parts.append(_sentence(work.publisher))
    parts.append(work.url)
    return " ".join(p for p in parts if p)


def render(cite: Citation, fmt: str) -> str:
    """Every work of the citation in one format: the dataset first, then each source."""
    if fmt == "cff":
        return cite.cff_text
    if fmt == "bibtex":
        return "\n\n".join(to_bibtex(w) for w in cite.works)
    if fmt == "ris":
        return "\n\n".join(to_ris(w) for w in cite.works)
    if fmt == "csl-json":
        return json.dumps([to_csl(w) for w in cite.works], indent=2, ensure_ascii=False)
    if fmt == "apa":
        return "\n\n".join(to_apa(w) for w in cite.works)
    raise CiteError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
