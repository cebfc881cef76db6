"""Validation results kept under ``.uslatam/cache/``, keyed by the content of every input.

A run's report is stored under a key made of: the tool's own code and the versions of the
distributions installed beside it (their names; a dependency edited in place is not seen),
git's and Python's path variables, the options, the newest release's commit and what git
hands back for it, and every entry under the package's root (the package's files by content,
others by size and time, symlinks by their text and where they end, hidden folders by name;
``__pycache__`` skipped, ``.uslatam/`` included but for this cache and the table cache). A later run with the same
key is given the stored report instead of running again; any change to any of these is a new
key, so a stored report is only ever the report a full run would make. A file that changed
while the run read it (an editor saving, a checkout) leaves the report unstored.

A cache inside a package could arrive with it, forged ("no findings"). So by default one is
used only at the top of a git work tree that tracks the descriptor and nothing under
``.uslatam/`` (in any letter case): a clone brings only tracked files, and a pull request
cannot bring a cache (git's variables are ignored for this: a GIT_DIR elsewhere cannot vouch
for a folder). And an entry names the file it was written to (device and inode): a copy, or
an archive extracted (even with a ``.git`` of its own), holds other files, whose entries are
misses. A run that opened a file under the root that the key does not hold by its content is
not stored, and no file of the package larger than the file limit is read to make a key.
Entries are read as untrusted input: a malformed, oversized or symlinked entry is a miss.
Writing is best effort: a read-only or full disk leaves the run's report as it is, uncached.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .boundary import Refused, open_regular, recording_opens
from .codes import lookup
from .files import replacing
from .paths import DESCRIPTOR, PACKAGE_FILES, PACKAGE_FOLDERS, TOOL_HIDDEN_FILES
from .report import Finding, Report

FORMAT = 1  # bump when an entry's layout or the meaning of a key changes
STATE_DIR, CACHE_DIR, TABLES_DIR = ".uslatam", "cache", "tables"
# What validation keeps for later runs (this cache, the table cache): results, never an input of a run.
KEPT_FOLDERS = (f"{STATE_DIR}/{CACHE_DIR}", f"{STATE_DIR}/{TABLES_DIR}")
MAX_FILES = 50_000  # files hashed for a key; beyond, the package is not cached
MAX_ENTRY_BYTES = 256 * 1024 * 1024
KEPT_ENTRIES = 8  # the newest entries kept; older ones are deleted
SKIPPED_NAMES = ("__pycache__",)  # Python's bytecode, written beside modules, never package data
_FINDING_FIELDS = {f.name: f for f in fields(Finding)}
_ENTRY_FIELDS = {"format", "key", "written_to", "report"}
_REPORT_FIELDS = {"fatal", "tables", "engines", "findings"}


class KeyUnavailable(Exception):
    """This package cannot be keyed (too many files, a file unreadable): run without the cache."""


@dataclass(frozen=True)
class Store:
    """The cache folder of one package, and the files its key covers."""

    root: Path
    key: str
    covered: frozenset[str]  # relative paths of the files the key holds by their content
    stamps: str  # every entry's size, time and inode when the key was made: what a change mid-run alters
    hashes: dict[str, tuple[str, str]] = field(default_factory=dict)  # relpath -> (SHA-256, stamp) of each file
    made_ns: int = 0  # when hashing began (the clock, in nanoseconds)

    @property
    def folder(self) -> Path:
        return self.root / STATE_DIR / CACHE_DIR

    def entry(self) -> Path:
        return self.folder / f"validate-{self.key}.json"


def allowed(root: Path, wanted: bool | None) -> bool:
    """Whether the cache may be used: ``wanted`` True or False decides (True still needs a
    descriptor); None means only at the top of a git work tree that tracks the descriptor and
    nothing under ``.uslatam/``."""
    if wanted is False or not Path(root, DESCRIPTOR).is_file():
        return False
    if wanted:
        return True
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--full-name", "--", DESCRIPTOR, f":(icase){STATE_DIR}"],
            capture_output=True,
            timeout=30,
            env=git_environment(),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return listed.returncode == 0 and listed.stdout == DESCRIPTOR.encode() + b"\0"


def open_store(root: Path, options: dict, *, max_file_bytes: int) -> Store:
    """The store for this package and these options (raises :class:`KeyUnavailable`, also for a
    file of the package larger than ``max_file_bytes``: never read in full to make a key)."""
    made_ns = time.time_ns()
    digest = hashlib.sha256()
    head = {"format": FORMAT, "tool": tool_fingerprint(), "options": options, "environment": environment()}
    digest.update(json.dumps(head, sort_keys=True).encode())
    hashes: dict[str, tuple[str, str]] = {}
    stamps = hashlib.sha256()
    for relpath, kind, content, stamp in _package_files(Path(root), hashing=True, max_file_bytes=max_file_bytes):
        if kind == "file":
            hashes[relpath] = (content, stamp)
        digest.update(json.dumps([relpath, kind, content]).encode() + b"\n")
        stamps.update(json.dumps([relpath, stamp]).encode() + b"\n")
    return Store(
        root=root,
        key=digest.hexdigest(),
        covered=frozenset(hashes),
        stamps=stamps.hexdigest(),
        hashes=hashes,
        made_ns=made_ns,
    )


def unchanged(store: Store) -> bool:
    """Whether every entry under the root still has the size, time and inode it had when the key was made."""
    stamps = hashlib.sha256()
    try:
        for relpath, _, _, stamp in _package_files(Path(store.root), hashing=False, max_file_bytes=0):
            stamps.update(json.dumps([relpath, stamp]).encode() + b"\n")
    except KeyUnavailable:
        return False
    return stamps.hexdigest() == store.stamps


def tool_fingerprint() -> str:
    """The tool's own code and every distribution installed where it runs (their names carry versions)."""
    digest = hashlib.sha256(sys.version.encode())
    own = Path(__file__).parent
    for path in sorted(own.rglob("*.py")):
        digest.update(path.relative_to(own).as_posix().encode() + b"\0" + _own_code(path) + b"\0")
    for folder in sys.path:
        try:
            names = sorted(n for n in os.listdir(folder or ".") if n.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
        if names:  # the folders a distribution is installed in, whatever else is on the path
            digest.update(f"{folder}\0{names}\n".encode())
    return digest.hexdigest()


def _own_code(path: Path) -> bytes:
    return path.read_bytes()  # the tool's installed modules, never a package's file


def environment() -> dict[str, str]:
    """The variables that change what validation reads: git's own (a GIT_DIR elsewhere, replacement
    objects off) and Python's module path."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("GIT_") or k == "PYTHONPATH"}


def git_environment() -> dict[str, str]:
    """This process's environment without git's variables: the work tree is found from the folder."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def _package_files(root: Path, *, hashing: bool, max_file_bytes: int) -> Iterator[tuple[str, str, str, str]]:
    """(relative path, kind, content, stamp) of every entry the key covers, folder by folder.

    The package's own files (:data:`~uslatam.paths.PACKAGE_FILES`, its folders, the tool's
    hidden files and ``.uslatam/``) are keyed by their content (when ``hashing``). Any other file
    under the root (a README, tests) is keyed by size and modification time: enough to see it
    appear, vanish or change, since a run that opens one is never stored (:func:`covers`).
    Hidden folders (``.git``, a virtual environment) are named but not entered: no package path
    may lead into one, though listings count them. A symlink is keyed by its text and by where
    it ends. The stamp (size, time, inode) is what a change during the run would alter.
    """
    pending, seen = [root], 0
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            raise KeyUnavailable(f"cannot list {folder}: {error.strerror or error}") from None
        for entry in entries:
            path = Path(entry.path)
            relpath = path.relative_to(root).as_posix()
            if relpath in KEPT_FOLDERS or entry.name in SKIPPED_NAMES:
                continue
            seen += 1
            if seen > MAX_FILES:
                raise KeyUnavailable(f"more than {MAX_FILES} files")
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as error:
                raise KeyUnavailable(f"cannot look at {relpath}: {error.strerror or error}") from None
            stamp = file_stamp(info)
            if stat.S_ISLNK(info.st_mode):
                yield relpath, "symlink", f"{os.readlink(path)}\0{os.path.realpath(path)}", stamp
            elif stat.S_ISDIR(info.st_mode):
                if relpath == STATE_DIR:
                    pending.append(path)  # its contents only: the cache's own first write leaves the key as it was
                elif entry.name.startswith("."):
                    yield relpath, "hidden-folder", "", ""
                else:
                    pending.append(path)
                    yield relpath, "folder", "", ""
            elif not stat.S_ISREG(info.st_mode):
                yield relpath, "special", str(stat.S_IFMT(info.st_mode)), stamp
            elif _own_file(relpath):
                if hashing and info.st_size > max_file_bytes:
                    raise KeyUnavailable(f"{relpath} is larger than {max_file_bytes} bytes")
                yield relpath, "file", _file_hash(path, relpath) if hashing else "", stamp
            else:
                yield relpath, "other-file", f"{info.st_size}:{info.st_mtime_ns}", stamp


def file_stamp(info: os.stat_result) -> str:
    """A file's size, modification time and inode: what a change to it alters."""
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"


def _own_file(relpath: str) -> bool:
    """A file of the package itself, keyed by its content."""
    top = relpath.split("/", 1)[0]
    return relpath in PACKAGE_FILES or relpath in TOOL_HIDDEN_FILES or top in PACKAGE_FOLDERS or top == STATE_DIR


def _file_hash(path: Path, relpath: str) -> str:
    digest = hashlib.sha256()
    try:
        with open_regular(path, name=relpath) as stream:
            while chunk := stream.read(1 << 22):
                digest.update(chunk)
    except (Refused, OSError) as error:
        raise KeyUnavailable(f"cannot read {relpath}: {error}") from None
    return digest.hexdigest()


def lookup_report(store: Store, package: str) -> Report | None:
    """The stored report for this key, or None (absent, unreadable, malformed or not written
    here: all misses)."""
    folder = store.folder
    if not real_folder(folder.parent) or not real_folder(folder):
        return None
    read = read_json(store.entry(), "the cache entry", MAX_ENTRY_BYTES)
    if read is None:
        return None
    entry, info = read
    if not isinstance(entry, dict) or set(entry) != _ENTRY_FIELDS:
        return None
    if entry["format"] != FORMAT or entry["key"] != store.key:
        return None
    if entry["written_to"] != [info.st_dev, info.st_ino]:
        return None  # copied, extracted or moved here: not an entry this cache wrote
    report = _report(entry["report"], package)
    if report is not None:
        try:
            os.utime(store.entry())  # the newest entries are kept: one in use stays
        except OSError:
            pass
    return report


def store_report(store: Store, report: Report, opened: set[str]) -> bool:
    """Keep ``report`` under the store's key; False when it was not kept (a fatal report, an input
    outside the key or changed during the run, or a disk that refused)."""
    if report.fatal or not covers(store, opened) or not unchanged(store):
        return False
    folder = store.folder
    try:
        if not own_folder(folder, "results kept for a run with the same inputs"):
            return False
        with replacing(store.entry()) as temporary:  # the file renamed into place keeps its inode
            info = os.stat(temporary, follow_symlinks=False)
            entry = {
                "format": FORMAT,
                "key": store.key,
                "written_to": [info.st_dev, info.st_ino],
                "report": _stored(report),
            }
            data = json.dumps(entry).encode()
            if len(data) > MAX_ENTRY_BYTES:
                raise OSError("the report is too large to keep")
            temporary.write_bytes(data)
        _prune(folder)
    except OSError:
        return False  # a read-only or full disk: the report stands, uncached
    return True


def covers(store: Store, opened: set[str]) -> bool:
    """Whether every file under the root the run opened is one the key holds by its content."""
    root = os.path.abspath(store.root)
    code = tuple(os.path.abspath(p) + os.sep for p in {str(Path(__file__).parent), sys.prefix, sys.base_prefix})
    for path in opened:
        absolute = os.path.abspath(path)  # as opened: relative to the working folder
        if absolute == root or not absolute.startswith(root + os.sep) or absolute.startswith(code):
            continue  # outside the package, or code being imported (the tool's fingerprint covers it)
        relpath = os.path.relpath(absolute, root).replace(os.sep, "/")
        if relpath not in store.covered and not relpath.startswith(tuple(f"{kept}/" for kept in KEPT_FOLDERS)):
            return False
    return True


@contextmanager
def recording(store: Store | None) -> Iterator[set[str]]:
    """The paths opened inside the block (empty and unrecorded without a store)."""
    if store is None:
        yield set()
        return
    with recording_opens() as opened:
        yield opened


def real_folder(path: Path) -> bool:
    """Whether ``path`` is a folder itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def own_folder(folder: Path, what: str) -> bool:
    """Make ``folder`` (and the state folder above it) if need be, ignoring itself in git; False when a
    link or a file stands in its place. Raises OSError for a disk that refuses."""
    for level in (folder.parent, folder):
        if not os.path.lexists(level):
            level.mkdir()
        if not real_folder(level):
            return False
    ignore = folder / ".gitignore"
    if not os.path.lexists(ignore):
        ignore.write_text(f"# written by uslatam validate: {what}\n*\n")
    return True


def read_json(path: Path, name: str, limit: int) -> tuple[object, os.stat_result] | None:
    """The JSON of the regular file ``path`` (never through a link) and its status, or None when it is
    absent, a link, larger than ``limit`` or not JSON: an entry is untrusted input."""
    if os.path.islink(path):
        return None
    try:
        with open_regular(path, name=name) as stream:
            info = os.fstat(stream.fileno())
            if info.st_size > limit:
                return None
            return json.loads(stream.read(limit + 1)), info
    except (Refused, OSError, ValueError, RecursionError):
        return None


def _prune(folder: Path) -> None:
    entries = []
    for entry in os.scandir(folder):
        if entry.name.startswith("validate-") and entry.is_file(follow_symlinks=False):
            entries.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
    for _, path in sorted(entries, reverse=True)[KEPT_ENTRIES:]:
        os.unlink(path)


def _stored(report: Report) -> dict:
    return {
        "fatal": report.fatal,
        "tables": dict(report.tables),
        "engines": list(report.engines),
        "findings": [asdict(f) for f in report.findings],
    }


def _report(data: object, package: str) -> Report | None:
    """A report from a stored entry, or None for anything but what :func:`_stored` writes."""
    if not isinstance(data, dict) or set(data) != _REPORT_FIELDS or not isinstance(data["fatal"], bool):
        return None
    tables, engines, stored = data["tables"], data["engines"], data["findings"]
    if not isinstance(tables, dict) or not all(isinstance(k, str) and type(v) is int for k, v in tables.items()):
        return None
    if not isinstance(engines, list) or not all(isinstance(e, str) for e in engines):
        return None
    if not isinstance(stored, list):
        return None
    findings = []
    for item in stored:
        finding = finding_from(item)
        if finding is None:
            return None
        findings.append(finding)
    return Report(
        package=package, findings=findings, tables=tables, fatal=data["fatal"], engines=tuple(engines), cached=True
    )


def finding_from(item: object) -> Finding | None:
    if not isinstance(item, dict) or set(item) != set(_FINDING_FIELDS):
        return None
    if not isinstance(item["code"], str) or not isinstance(item["message"], str):
        return None
    for name in ("table", "file", "column", "value", "expected"):
        if item[name] is not None and not isinstance(item[name], str):
            return None
    if item["line"] is not None and type(item["line"]) is not int:
        return None
    if not isinstance(item["found_by"], list) or not all(isinstance(layer, str) for layer in item["found_by"]):
        return None
    try:
        lookup(item["code"])
    except KeyError:
        return None
    return Finding(**{**item, "found_by": tuple(item["found_by"])})
