"""What an archive needs of a release: one locator, Zenodo's metadata, a reproducible zip.

The package's address is configured once, as ``homepage`` in ``datapackage.json``; the
descriptor's ``id`` and CITATION.cff's ``url`` and ``repository-code`` are derived from it
(``uslatam release`` writes them). ``.zenodo.json``, which Zenodo reads when it archives a
GitHub release, is derived from CITATION.cff, the descriptor and the sources table. The
release zip holds the package's files with fixed names, order, times and modes, and a
``SHA256SUMS`` of every member, so the same commit always gives the same bytes.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from .cite import CITATION_FILE, Citation, CiteError, citation_from
from .files import write_atomic
from .package import DESCRIPTOR, find_root
from .paths import PACKAGE_FILES, PACKAGE_FOLDERS, ZENODO_FILE

LOCATOR_OWNER = "homepage"
CHECKSUMS = "SHA256SUMS"
# The zip carries what a wheel carries, and what a reader needs beside it.
ARCHIVE_FILES = (*PACKAGE_FILES, "README.md", "DATASHEET.md", "LICENSE", "profiles/table-schema.json")
MAX_ARCHIVE_BYTES = 2 * 1024**3


class ArchiveError(ValueError):
    """The release metadata or artefacts cannot be made; the message says why."""


# --- one locator ------------------------------------------------------------------------------


def homepage(descriptor: dict) -> str:
    value = descriptor.get(LOCATOR_OWNER)
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise ArchiveError(f"set {LOCATOR_OWNER!r} in {DESCRIPTOR} to the package's http(s) address")
    return value


def derived_locators(descriptor: dict) -> dict[str, str]:
    """Every copy of the locator, keyed by where it lives, as it must read."""
    url = homepage(descriptor)
    return {f"{DESCRIPTOR} id": url, f"{CITATION_FILE} url": url, f"{CITATION_FILE} repository-code": url}


def locator_disagreements(descriptor: dict, cff: dict) -> list[str]:
    """Each derived locator that does not read as ``homepage`` says."""
    found = {
        f"{DESCRIPTOR} id": descriptor.get("id"),
        f"{CITATION_FILE} url": cff.get("url"),
        f"{CITATION_FILE} repository-code": cff.get("repository-code"),
    }
    return [
        f"{where} is {found[where]!r}, not {want!r} (from {DESCRIPTOR} {LOCATOR_OWNER})"
        for where, want in derived_locators(descriptor).items()
        if found[where] != want
    ]


def _constant(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _: text


def with_locators(descriptor: dict, cff_text: str) -> tuple[dict, str]:
    """The descriptor and CITATION.cff text with every derived locator set from ``homepage``."""
    url = homepage(descriptor)
    items = list(descriptor.items())
    if "id" not in descriptor:  # after "name", where the spec lists it
        at = next((i + 1 for i, (key, _) in enumerate(items) if key == "name"), 0)
        items.insert(at, ("id", url))
    descriptor = {key: (url if key == "id" else value) for key, value in items}
    for key in ("url", "repository-code"):
        line = f"{key}: {json.dumps(url)}"
        # a replacement function: the URL is text, never a pattern's escapes
        cff_text, count = re.subn(rf"(?m)^{re.escape(key)}: .*$", _constant(line), cff_text)
        if count == 0:  # after the version lines, where a reader looks for it
            anchors = list(re.finditer(r"(?m)^(version|date-released|url): .*\n", cff_text))
            if not anchors:
                raise ArchiveError(f"{CITATION_FILE} has no top-level 'version:' line")
            end = anchors[-1].end()
            cff_text = cff_text[:end] + line + "\n" + cff_text[end:]
    return descriptor, cff_text


def _cff_reference(work) -> str:
    """One CITATION.cff ``references`` entry for a source (a YAML block, strings JSON-quoted)."""
    lines = ["  - type: article", f"    title: {json.dumps(work.title, ensure_ascii=False)}"]
    if work.authors:
        lines.append("    authors:")
        for person in work.authors:
            if person.literal or not person.given:
                lines.append(f"      - name: {json.dumps(person.literal or person.family, ensure_ascii=False)}")
            else:
                lines.append(f"      - family-names: {json.dumps(person.family, ensure_ascii=False)}")
                lines.append(f"        given-names: {json.dumps(person.given, ensure_ascii=False)}")
    if work.publisher:
        lines += ["    publisher:", f"      name: {json.dumps(work.publisher, ensure_ascii=False)}"]
    lines.append(f"    date-published: {work.issued.isoformat()}")
    lines.append(f"    url: {json.dumps(work.url)}")
    if work.language:
        lines += ["    languages:", f"      - {work.language}"]
    return "\n".join(lines) + "\n"


def with_sources(descriptor: dict, cff_text: str, cite: Citation) -> tuple[dict, str]:
    """The descriptor's ``sources`` and CITATION.cff's ``references`` with every source of the package.

    Entries already there (matched by URL) are kept as written; a source missing from either is added.
    """
    listed = {entry.get("path") for entry in descriptor.get("sources") or [] if isinstance(entry, dict)}
    added = [
        {"title": f"{work.publisher}: {work.title} ({work.issued.isoformat()})", "path": work.url}
        for work in cite.sources
        if work.url not in listed
    ]
    if added:
        descriptor = {**descriptor, "sources": [*(descriptor.get("sources") or []), *added]}
    referenced = set(re.findall(r"(?m)^    url: (.*)$", cff_text))
    missing = [w for w in cite.sources if json.dumps(w.url) not in referenced and w.url not in referenced]
    if missing:
        blocks = "".join(_cff_reference(work) for work in missing)
        heading = re.search(r"(?m)^references:[ \t]*\n", cff_text)
        if heading is None:
            cff_text = cff_text.rstrip("\n") + "\nreferences:\n" + blocks
        else:  # at the end of the list: before the next top-level key, if any
            following = re.search(r"(?m)^\S", cff_text[heading.end() :])
            end = heading.end() + following.start() if following else len(cff_text)
            body = cff_text[:end].rstrip("\n") + "\n"
            cff_text = body + blocks + cff_text[end:]
    return descriptor, cff_text


# --- Zenodo -----------------------------------------------------------------------------------


def _creator(person) -> dict[str, str]:
    return {"name": person.literal or (f"{person.family}, {person.given}" if person.given else person.family)}


def zenodo_metadata(cite: Citation) -> dict:
    """The deposit metadata Zenodo reads from ``.zenodo.json`` (its legacy deposit fields)."""
    dataset, cff, descriptor = cite.dataset, cite.cff, cite.descriptor
    licences = [entry for entry in descriptor.get("licenses", []) if isinstance(entry, dict)]
    notes = "Licences: " + "; ".join(
        str(entry.get("title") or entry.get("name"))
        + (f" ({entry['name']})" if entry.get("title") and entry.get("name") else "")
        for entry in licences
    )
    metadata: dict = {
        "upload_type": "dataset",
        "title": dataset.title,
        "version": dataset.version,
        "publication_date": dataset.issued.isoformat(),
        "creators": [_creator(p) for p in dataset.authors],
        "description": dataset.abstract or descriptor.get("description") or dataset.title,
        "access_right": "open",
        "related_identifiers": [
            {"identifier": dataset.url, "relation": "isSupplementTo", "scheme": "url"},
            *({"identifier": s.url, "relation": "isDerivedFrom", "scheme": "url"} for s in cite.sources),
        ],
    }
    if cff.get("license"):
        metadata["license"] = str(cff["license"])  # an SPDX id, as Zenodo takes it
    if cff.get("keywords"):
        metadata["keywords"] = [str(k) for k in cff["keywords"]]
    if licences:
        metadata["notes"] = notes
    return metadata


def zenodo_json(cite: Citation) -> bytes:
    return (json.dumps(zenodo_metadata(cite), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def package_citation(root: str | Path, overrides: dict[str, bytes] | None = None) -> Citation:
    """The citation of the package at ``root``, with ``overrides`` in place of files on disk."""
    root = find_root(root)
    overrides = overrides or {}

    def read(relpath: str) -> bytes:
        return overrides[relpath] if relpath in overrides else _package_file(root, relpath)

    try:
        return citation_from(read)
    except CiteError as error:
        raise ArchiveError(str(error)) from None


# --- the release zip --------------------------------------------------------------------------


def _package_file(root: Path, relpath: str) -> bytes:
    """A file of the package through the trust boundary: contained, a regular file, bounded."""
    from .boundary import Refused, package_bytes

    try:
        return package_bytes(root, relpath, what=relpath, limit=MAX_ARCHIVE_BYTES)
    except Refused as refused:
        raise ArchiveError(str(refused)) from None


def archive_members(root: Path) -> list[str]:
    """The package's files, as sorted POSIX paths; hidden files are left out. A symbolic link is
    refused (:class:`ArchiveError`), never left out in silence: the zip would lack a file the
    package shows."""
    members = [name for name in ARCHIVE_FILES if (root / name).is_file() or (root / name).is_symlink()]
    for folder in PACKAGE_FOLDERS:
        base = root / folder
        if base.is_symlink():
            members.append(folder)
        if not base.is_dir() or base.is_symlink():
            continue
        for path in base.rglob("*"):
            relative = path.relative_to(root)
            if any(part.startswith(".") for part in relative.parts):
                continue
            if path.is_file() or path.is_symlink():
                members.append(relative.as_posix())
    links = sorted(name for name in set(members) if (root / name).is_symlink())
    if links:
        raise ArchiveError(
            f"{', '.join(links)}: a symbolic link, which the release zip cannot hold; put the file itself in its place"
        )
    return sorted(set(members))


def _entry(name: str, when: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when)
    info.create_system = 3  # unix, so the mode below is read
    info.external_attr = 0o100644 << 16
    # stored, not deflated: deflate's bytes depend on the zlib build, and the files are small
    info.compress_type = zipfile.ZIP_STORED
    return info


def _referenced(cite: Citation) -> set[str]:
    """Every file the descriptor and the sources table name: tables, schemas, stored texts, licences."""
    named = {DESCRIPTOR, CITATION_FILE}
    for resource in cite.descriptor.get("resources", []):
        named.update(value for key in ("path", "schema") if isinstance(value := resource.get(key), str))
    for licence in cite.descriptor.get("licenses", []):
        path = licence.get("path") if isinstance(licence, dict) else None
        if isinstance(path, str) and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
            named.add(path)
    named.update(source.text_path for source in cite.sources if source.text_path)
    return named


def placeholder_locator(url: str) -> bool:
    """Whether ``url`` is on a domain reserved for examples (RFC 2606), which no one can publish at."""
    host = re.sub(r"^https?://([^/:?#]+).*$", r"\1", url).lower()
    return host in ("example.org", "example.com", "example.net") or host.endswith(
        (".example.org", ".example.com", ".example.net", ".example", ".invalid", ".test", ".localhost")
    )


def build_archive(root: str | Path, destination: str | Path, *, tag: str | None = None) -> list[Path]:
    """Write ``<name>-<version>.zip`` and its ``.sha256`` into ``destination``; return both paths.

    Byte-reproducible: members sorted, each dated at the release date, mode 0644, stored.
    With ``tag`` (publishing), the tag must name the version and the locator must be real.
    A package that does not validate is refused, naming its first findings: an archive is a release.
    """
    from .validate import validate

    root = find_root(root)
    report = validate(root)
    if not report.valid:
        shown = "; ".join(f"{f.code} {f.file or ''}: {f.message}" for f in report.errors[:3])
        raise ArchiveError(f"the package does not validate ({shown}); run uslatam validate")
    cite = package_citation(root)
    if tag is not None:
        if tag != f"v{cite.dataset.version}":
            raise ArchiveError(f"tag {tag!r} does not name the package's version {cite.dataset.version} (v<version>)")
        if placeholder_locator(cite.dataset.url):
            raise ArchiveError(
                f"{DESCRIPTOR} {LOCATOR_OWNER} is a placeholder ({cite.dataset.url}); "
                "set it to the package's real address before publishing"
            )
    problems = locator_disagreements(cite.descriptor, cite.cff)
    if problems:
        raise ArchiveError("; ".join(problems) + " (uslatam release writes them)")
    expected = zenodo_json(cite)
    if (root / ZENODO_FILE).is_file() and _package_file(root, ZENODO_FILE) != expected:
        raise ArchiveError(f"{ZENODO_FILE} is not what the package's metadata gives (uslatam release writes it)")
    day = cite.dataset.issued
    if day < datetime.date(1980, 1, 1):
        raise ArchiveError(f"release date {day} is before 1980, which a zip cannot hold")
    when = (day.year, day.month, day.day, 0, 0, 0)
    members = [m for m in archive_members(root) if m != ZENODO_FILE]
    missing = sorted(_referenced(cite) - set(members))
    if missing:  # a symbolic link, a hidden folder or a file gone: the zip would not be the package
        raise ArchiveError(f"files the package refers to cannot be archived: {', '.join(missing[:5])}")
    total = sum((root / m).stat().st_size for m in members)
    if total > MAX_ARCHIVE_BYTES:
        raise ArchiveError(f"the package is {total} bytes; the limit for an archive is {MAX_ARCHIVE_BYTES}")
    name = f"{cite.descriptor.get('name') or 'package'}-{cite.dataset.version}"
    out = Path(destination)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"{name}.zip"
    sums: list[str] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members:
            data = _package_file(root, member)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {member}")
            archive.writestr(_entry(member, when), data)
        # the archive's metadata as the package gives it, also for a release made before it existed
        sums.append(f"{hashlib.sha256(expected).hexdigest()}  {ZENODO_FILE}")
        archive.writestr(_entry(ZENODO_FILE, when), expected)
        archive.writestr(_entry(CHECKSUMS, when), ("\n".join(sums) + "\n").encode("utf-8"))
    write_atomic(zip_path, buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    sha_path = out / f"{name}.zip.sha256"
    write_atomic(sha_path, f"{digest}  {zip_path.name}\n".encode())
    return [zip_path, sha_path]


__all__ = [
    "ArchiveError",
    "archive_members",
    "build_archive",
    "derived_locators",
    "homepage",
    "locator_disagreements",
    "package_citation",
    "placeholder_locator",
    "with_locators",
    "zenodo_json",
    "zenodo_metadata",
]
