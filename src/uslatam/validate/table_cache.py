"""A table's reading and engine checks, kept under ``.uslatam/tables/`` for a later run to reuse.

What the structure layer and the table engines (pandera, the vectorised engine) find in one
table, and the typed table they leave for the foreign keys and the rules, depend only on the
table's bytes, its resource in the descriptor (path, schema, declared bytes and hash), the
limits, the engines, whether pyarrow reads the package, and the tool (its code and the
distributions beside it). An entry is kept under a key made of all of these; a later run
whose table has the same key takes the entry instead of reading and checking the table again.
The findings of a foreign key, and of a table rule that fills no context state and reads only
tables and state a key can hold (:attr:`~.rules.Rule.keepable`), are kept in ``results.json``
beside them, under a key made of the keys of every table they read and of that state (the
stored texts, the broken spans, the schemas, the absence of a release to compare with); a rule
that fills state (what the package rules read, the broken spans) keeps what it added beside its
findings, as Arrow (``*.gathered``, :mod:`.kept_state`). Everything else runs every time: the
rule that fills the stored texts, those that read a release, and the package rules. A kept table is
restored as its findings and size, its cells read when a check that runs first uses them
(:class:`DeferredTable`), so an unchanged table nothing reads again is never read whole. A
report made so is the report a full run makes (``tests/test_table_cache.py`` compares the two
over random edits).

A table's bytes are known by:

- the SHA-256 the whole-run cache took of every file (:mod:`uslatam.cache`), in a run that
  uses it and found no report for the whole package;
- with ``since`` (``uslatam validate --since REV``): git's blob at REV for a file git reports
  unchanged since REV, so that not a byte of it is read. Only where the work tree's file is a
  regular file of the blob's size and no attribute lets git check it out as other bytes of
  that size (``filter``, ``ident``, ``working-tree-encoding``; git's line-end conversions
  change the size). Any other file is known by its SHA-256.

A file git may not see change is hashed, never known by its blob: one whose index entry is
marked assume-unchanged or skip-worktree (git runs with its stat shortcuts and file-system
monitor off). And as git does with a racily clean file, a file modified in the
:data:`RACY_NS` before its bytes were known, or during the run, is not kept: a second write in
the same tick of the clock would leave the same size, time and inode.

Trust is the whole-run cache's: entries are used only at the top of a git work tree that
tracks nothing under ``.uslatam/`` (or when asked for outright), and an entry counts only in
the file it was written to, except with ``since``, which also takes entries written elsewhere
(the main branch's run, handed to a pull request's by CI) for the tables git vouches for, and
their results: never for a changed table, and never coverage's. What came from elsewhere is
never kept again as this run's own. Entries are read as untrusted input all the same
(anything malformed or unexpected is a miss), and writing them is best effort: a read-only or
full disk leaves the run as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import cache as result_cache
from ..boundary import Refused, open_regular
from ..files import replacing
from ..package import Limits, Package, Resource
from ..report import Finding
from ..schema import TableSpec, TypedTable, parse_column
from . import kept_state

FORMAT = 1  # bump when an entry's layout or the meaning of a key changes
COMPRESSION = "lz4"  # against zstd at 100,000 rows a table: a fifth less CPU written and read, 3x the bytes
KEPT_PER_TABLE = 2  # the newest entries of each table; older ones are deleted
MAX_METADATA_BYTES = 64 * 1024 * 1024
_METADATA = b"uslatam.table"
_ENTRY_FIELDS = {"format", "key", "written_to", "findings", "blank_lines", "padded_cells", "plain_text", "lines", "bad"}
_GATHERED_FIELDS = {"format", "key", "written_to", "findings", "shape"}
GATHERED_SUFFIX = ".gathered"  # what a rule gathered of a table, beside the tables' .arrow entries
_KEPT_FOR = "tables read and checked, and what checks found, kept for later runs"
RESULTS = "results.json"  # the kept findings of foreign keys and table rules, by key
MAX_RESULTS_BYTES = 256 * 1024 * 1024
_RESULTS_FIELDS = {"format", "written_to", "results"}
_UNCHANGING_MODES = ("100644", "100755")  # regular files in git; a link or a submodule is read, never trusted
_CONVERTING_ATTRIBUTES = ("filter", "ident", "working-tree-encoding")  # may check out other bytes of the same size
_GIT_TIMEOUT = 300
# git without what lets it call a changed file unchanged (a monitor, stat shortcuts), paths taken as written
_GIT = ["--literal-pathspecs", "-c", "core.fsmonitor=false", "-c", "core.ignoreStat=false"]
_GIT += ["-c", "core.checkStat=default", "-c", "core.trustctime=true"]
RACY_NS = 2_000_000_000  # a file modified this close to when its bytes were known is not kept (coarse clocks)


class SinceError(ValueError):
    """``since`` names nothing git can compare with (no git work tree, an unknown revision)."""


@dataclass(frozen=True)
class Identity:
    """What a file's bytes are known by, and its size, time and inode when they were."""

    content: str  # "sha256:<hex>" or "git:<blob id>"
    stamp: str

    @property
    def from_git(self) -> bool:
        return self.content.startswith("git:")


@dataclass
class TableCache:
    """The entries of one run: where they live, what each table file is, and whom to trust."""

    root: Path
    common: str  # the key's part every table shares: tool, options, engines
    identities: dict[str, Identity]  # relpath -> identity, for the files that have one
    trust_copied: bool  # entries written elsewhere (with since: main's run, by CI) are read for unchanged tables
    resources: dict[str, Resource] = field(default_factory=dict)  # table name -> its resource, if keyed at all
    unkeyed: frozenset[str] = frozenset()  # tables of the package never keyed (a name two resources share)
    _kept: dict[str, list[Finding]] | None = None  # results read from RESULTS: key -> findings
    _kept_here: bool = False  # RESULTS was written by this cache, not copied in
    _made: dict[str, list[Finding]] = field(default_factory=dict)  # results this run made or used of its own
    _states: dict[str, str] = field(default_factory=dict)  # state -> fingerprint, until a rule fills it

    @property
    def folder(self) -> Path:
        return self.root / result_cache.STATE_DIR / result_cache.TABLES_DIR

    def key(self, resource: Resource) -> str | None:
        """The key of ``resource``'s entry, or None when its bytes have no identity (not cached)."""
        identity = self.identities.get(_relpath(self.root, resource))
        if identity is None:
            return None
        parts = [
            self.common,
            resource.name,
            resource.path,
            resource.schema,
            resource.schema_path,
            resource.declared_bytes,
            resource.declared_hash,
            identity.content,
        ]
        try:
            return _digest(parts)
        except (TypeError, ValueError):  # a schema JSON cannot hold again: never kept
            return None

    def entry(self, resource: Resource, key: str) -> Path:
        # The file name holds no text of the package: a table name is hashed, never used as a path.
        return self.folder / f"{hashlib.sha256(resource.name.encode()).hexdigest()[:16]}-{key}.arrow"

    def restore(
        self, resource: Resource, spec: TableSpec, afresh: Callable[[], TypedTable | None]
    ) -> tuple[TypedTable, list[Finding]] | None:
        """The typed table and the findings of its reading and engines, as a run with the same key
        made them; None for a miss (no entry, or one that is malformed or not to be trusted).

        The findings and the table's size are read now, its cells when a check first uses them
        (:class:`DeferredTable`); should the entry then fail, ``afresh()`` reads the table's file."""
        key = self.key(resource)
        if key is None or not result_cache.real_folder(self.folder.parent) or not result_cache.real_folder(self.folder):
            return None
        path = self.entry(resource, key)
        copied_too = self.trust_copied and self.identities[_relpath(self.root, resource)].from_git
        try:
            head = _read_entry_head(path, key, copied_too)
        except Exception:  # an entry is untrusted input: whatever is wrong with it, the table is read afresh
            return None
        if head is None:
            return None
        findings, rows, blank_lines, padded_cells, plain_text = head
        try:
            os.utime(path)  # the newest entries are kept: one in use stays
        except OSError:
            pass

        def load() -> TypedTable:
            try:
                restored = _read_entry(path, key, spec, resource.path, copied_too)
            except Exception:
                restored = None
            if restored is not None and restored[1] == findings and restored[0].row_count == rows:
                return restored[0]
            typed = afresh()  # the entry changed or broke since its findings were taken: the file is read
            if typed is None:
                raise OSError(f"{resource.path} cannot be read again: its kept entry broke during the run")
            return typed

        deferred = DeferredTable(
            spec,
            resource.path,
            rows=rows,
            blank_lines=blank_lines,
            padded_cells=padded_cells,
            plain_text=plain_text,
            load=load,
        )
        return deferred, findings

    def keep(self, resource: Resource, typed: TypedTable, findings: list[Finding]) -> bool:
        """Keep what reading and the engines made of ``resource``; False when it was not kept (no
        identity, a file changed since it was known, a table that cannot be written, a disk that refused)."""
        key = self.key(resource)
        relpath = _relpath(self.root, resource)
        identity = self.identities.get(relpath)
        if key is None or identity is None:
            return False
        if _stamp(resource.file) != identity.stamp:
            del self.identities[relpath]  # changed while read: neither it nor what reads it is kept
            return False
        try:
            if not result_cache.own_folder(self.folder, _KEPT_FOR):
                return False
            path = self.entry(resource, key)
            with replacing(path) as temporary:  # renamed into place, the file keeps the inode it names
                info = os.stat(temporary, follow_symlinks=False)
                _write_entry(temporary, key, typed, findings, [info.st_dev, info.st_ino])
            _prune(self.folder, path.name.split("-", 1)[0])
        except Exception:  # a read-only or full disk, a frame pyarrow cannot write: the run goes on uncached
            return False
        return True

    # --- the findings of foreign keys and table rules ------------------------------------------

    def table_key(self, name: str) -> str | None:
        """The key of table ``name``'s entry; "absent" for a table the package does not have."""
        resource = self.resources.get(name)
        if resource is None:
            return None if name in self.unkeyed else "absent"
        return self.key(resource)

    def results_key(
        self, kind: str, table: str, reads: list[str], state: dict[str, str], detail: object
    ) -> tuple[str, bool] | None:
        """The key of what a check of ``table`` found, reading the tables ``reads`` and ``state``
        (fingerprints), and whether git vouches for every table it reads; None when a table it
        reads has no key (its findings are not kept)."""
        names = [table, *sorted(set(reads) - {table})]
        tables = [(name, self.table_key(name)) for name in names]
        if any(key is None for _, key in tables):
            return None
        from_git = all(
            self.identities[_relpath(self.root, self.resources[name])].from_git
            for name in names
            if name in self.resources
        )
        return _digest([kind, tables, sorted(state.items()), detail]), from_git

    def results(self, key: tuple[str, bool]) -> list[Finding] | None:
        """What the check of ``key`` found in an earlier run, or None. Results written elsewhere
        count only for checks of tables git vouches for."""
        if self._kept is None:
            self._kept, self._kept_here = {}, False
            if result_cache.real_folder(self.folder):
                self._kept, self._kept_here = _read_results(self.folder / RESULTS, self.trust_copied)
        digest, from_git = key
        if not self._kept_here and not from_git:
            return None
        found = self._kept.get(digest)
        if found is not None and self._kept_here:
            self._made[digest] = found  # still in use: kept again (what came from elsewhere never is)
        return found

    def record(self, key: tuple[str, bool], findings: list[Finding]) -> None:
        self._made[key[0]] = findings

    # --- what rules gather for the package rules -----------------------------------------------

    def _gathered_entry(self, name: str, digest: str) -> Path:
        return self.folder / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}-{digest}{GATHERED_SUFFIX}"

    def gathered(self, name: str, key: tuple[str, bool]) -> tuple[list[Finding], dict] | None:
        """The findings of the check ``name`` and what it gathered, as an earlier run with ``key``
        made them; None for a miss. Written elsewhere, they count only where git vouches for every
        table the check read."""
        digest, from_git = key
        if not result_cache.real_folder(self.folder.parent) or not result_cache.real_folder(self.folder):
            return None
        path = self._gathered_entry(name, digest)
        try:
            found = _read_gathered(path, digest, self.trust_copied and from_git)
        except Exception:  # an entry is untrusted input: whatever is wrong with it, the check runs
            return None
        if found is not None:
            try:
                os.utime(path)  # the newest entries are kept: one in use stays
            except OSError:
                pass
        return found

    def keep_gathered(self, name: str, key: tuple[str, bool], findings: list[Finding], gathered: dict) -> bool:
        """Keep what the check ``name`` found and gathered under ``key``; best effort."""
        try:
            if not result_cache.own_folder(self.folder, _KEPT_FOR):
                return False
            path = self._gathered_entry(name, key[0])
            with replacing(path) as temporary:
                info = os.stat(temporary, follow_symlinks=False)
                _write_gathered(temporary, key[0], findings, gathered, [info.st_dev, info.st_ino])
            _prune(self.folder, path.name.split("-", 1)[0], GATHERED_SUFFIX)
        except Exception:  # a read-only or full disk, state that cannot be kept: the next run gathers again
            return False
        return True

    def call(self, function, args: tuple) -> list[Finding]:
        """``function(*args)`` kept under a key made of the tool, the function's name and its arguments
        (arguments JSON cannot hold: not kept)."""
        try:
            key = (_digest([self.common, function.__module__, function.__qualname__, args]), False)
        except (TypeError, ValueError):
            return function(*args)
        found = self.results(key)
        if found is None:
            found = function(*args)
            self.record(key, found)
        return found

    def fingerprint(self, state: str, value: object) -> str | None:
        """A digest of context state a kept rule reads (the stored texts, the broken spans, the schemas,
        the absence of a release); None for state no key holds (a release: the rule runs)."""
        if state == "baseline":
            return None if value is not None else _digest("no release to compare with")
        if state not in self._states:
            if isinstance(value, dict) and state == "specs":
                items = sorted((name, getattr(self.resources.get(name), "schema", None)) for name in value)
            elif isinstance(value, dict):
                items = sorted(value.items())
            else:
                items = sorted(value)  # type: ignore[call-overload]
            self._states[state] = _digest(items)
        return self._states[state]

    def state_filled(self, states: tuple[str, ...]) -> None:
        """A rule filled ``states``: their fingerprints are made afresh."""
        for state in states:
            self._states.pop(state, None)

    def save_results(self) -> bool:
        """Keep this run's results (those it used and those it made) for the next run; best effort."""
        if not self._made:
            return False
        try:
            if not result_cache.own_folder(self.folder, _KEPT_FOR):
                return False
            with replacing(self.folder / RESULTS) as temporary:
                info = os.stat(temporary, follow_symlinks=False)
                results = {key: [asdict(f) for f in found] for key, found in self._made.items()}
                data = json.dumps(
                    {"format": FORMAT, "written_to": [info.st_dev, info.st_ino], "results": results}
                ).encode()
                if len(data) > MAX_RESULTS_BYTES:
                    raise OSError("the results are too large to keep")
                temporary.write_bytes(data)
        except (OSError, TypeError, ValueError):
            return False
        return True


def _digest(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _read_results(path: Path, trust_copied: bool) -> tuple[dict[str, list[Finding]], bool]:
    """The kept results in ``path`` and whether this cache wrote them (rather than a copy arriving);
    nothing for anything but what :meth:`TableCache.save_results` writes."""
    nothing: tuple[dict[str, list[Finding]], bool] = ({}, False)
    read = result_cache.read_json(path, "the kept results", MAX_RESULTS_BYTES)
    if read is None:
        return nothing
    data, info = read
    if not isinstance(data, dict) or set(data) != _RESULTS_FIELDS or data["format"] != FORMAT:
        return nothing
    here = data["written_to"] == [info.st_dev, info.st_ino]
    if not here and not trust_copied:
        return nothing  # copied, extracted or moved here: not results this cache wrote
    results = data["results"]
    if not isinstance(results, dict):
        return nothing
    kept: dict[str, list[Finding]] = {}
    for key, items in results.items():
        if not isinstance(items, list):
            return nothing
        findings = [result_cache.finding_from(item) for item in items]
        if any(f is None for f in findings):
            return nothing
        kept[key] = findings  # type: ignore[assignment]
    return kept, here


def for_run(
    package: Package,
    *,
    limits: Limits,
    engines: tuple[str, ...],
    fast: bool,
    parsed_by: str,
    store: result_cache.Store | None,
    since: str | None,
) -> TableCache | None:
    """The table cache of a run that has the whole-run ``store`` (files known by their SHA-256) or
    ``since`` (files known through git); None for neither. Raises :class:`SinceError`."""
    names = [r.name for r in package.resources]
    # A name two resources share would key one's checks by the other's bytes: neither is kept.
    resources = [r for r in package.resources if r.file is not None and names.count(r.name) == 1]
    if since is not None:
        known_ns = time.time_ns()
        identities = _identities_since(package.root, since, resources, limits.max_file_bytes)
    elif store is not None:
        known_ns = store.made_ns
        identities = {}
        for resource in resources:
            relpath = _relpath(package.root, resource)
            if relpath in store.hashes:
                digest, stamp = store.hashes[relpath]
                identities[relpath] = Identity(f"sha256:{digest}", stamp)
    else:
        return None
    identities = {path: i for path, i in identities.items() if _modified_ns(i.stamp) < known_ns - RACY_NS}
    common = {
        "format": FORMAT,
        "tool": result_cache.tool_fingerprint(),
        "environment": result_cache.environment(),
        "limits": asdict(limits),
        "engines": [e for e in engines if e != "frictionless"],  # frictionless reads the files itself, later
        "fast": fast,
        "parsed_by": parsed_by,
    }
    digest = hashlib.sha256(json.dumps(common, sort_keys=True).encode()).hexdigest()
    return TableCache(
        root=package.root,
        common=digest,
        identities=identities,
        trust_copied=since is not None,
        resources={r.name: r for r in resources},
        unkeyed=frozenset(r.name for r in package.resources) - {r.name for r in resources},
    )


# --- what the bytes are known by ------------------------------------------------------------


def _relpath(root: Path, resource: Resource) -> str:
    return Path(os.path.relpath(resource.file, root)).as_posix()


def _modified_ns(stamp: str) -> int:
    return int(stamp.split(":")[1])


def _stamp(path: Path) -> str | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return result_cache.file_stamp(info) if stat.S_ISREG(info.st_mode) else None


def _identities_since(root: Path, since: str, resources: list[Resource], max_bytes: int) -> dict[str, Identity]:
    """Each table file's identity: git's blob at ``since`` where git vouches for it, else its SHA-256."""
    stamps = {}
    for resource in resources:
        relpath = _relpath(root, resource)
        stamp = _stamp(resource.file)
        if stamp is not None and not relpath.startswith("../"):
            stamps[relpath] = stamp  # taken before git looks: a change after it shows as a changed stamp
    paths = sorted(stamps)
    require_work_tree(root)
    commit = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{since}^{{commit}}", check=False)
    if not commit.strip():
        raise SinceError(f"git knows no commit {since!r}: name a branch, a tag or a commit of this repository")
    blobs = _blobs(root, commit.strip().decode(), paths)
    hidden = _hidden_from_git(root, paths)
    changed = (
        set(
            _git(
                root,
                "diff",
                "--no-ext-diff",
                "--no-renames",
                "--relative",
                "--name-only",
                "-z",
                commit.strip().decode(),
                "--",
                *paths,
            ).split(b"\0")
        )
        if paths
        else set()
    )
    converting = _converting(root, paths)
    identities = {}
    for relpath in paths:
        blob = blobs.get(relpath)
        stamp = stamps[relpath]
        size = int(stamp.split(":", 1)[0])
        vouched = relpath.encode() not in changed and relpath not in converting and relpath not in hidden
        if blob is not None and vouched and blob[1] == size:
            identities[relpath] = Identity(f"git:{blob[0]}", stamp)
        elif size <= max_bytes:
            digest = _sha256(root / relpath)
            if digest is not None:
                identities[relpath] = Identity(f"sha256:{digest}", stamp)
    return identities


def require_work_tree(root: Path) -> None:
    """Raise :class:`SinceError` unless ``root`` is in a git work tree."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree", check=False).strip()
    if inside != b"true":
        raise SinceError(f"{root} is not in a git work tree: --since compares with a git revision (drop it here)")


def _git(root: Path, *args: str, check: bool = True) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *_GIT, *args],
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            env=result_cache.git_environment(),
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise SinceError(f"git could not be asked what changed: {error}") from None
    if check and done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SinceError(f"git could not say what changed: {message[-1] if message else 'git failed'}")
    return done.stdout if done.returncode == 0 else b""


def _blobs(root: Path, commit: str, paths: list[str]) -> dict[str, tuple[str, int]]:
    """relpath -> (blob id, size) of the regular files among ``paths`` at ``commit``."""
    if not paths:
        return {}
    listed = _git(root, "ls-tree", "-z", "-l", commit, "--", *paths)
    blobs = {}
    for record in listed.split(b"\0"):
        head, _, name = record.partition(b"\t")
        fields = head.split()
        if len(fields) == 4 and fields[1] == b"blob" and fields[0].decode() in _UNCHANGING_MODES:
            blobs[name.decode("utf-8", "surrogateescape")] = (fields[2].decode(), int(fields[3]))
    return blobs


def _hidden_from_git(root: Path, paths: list[str]) -> set[str]:
    """The paths whose index entry tells git not to look at the file (assume-unchanged, skip-worktree)."""
    if not paths:
        return set()
    listed = _git(root, "ls-files", "-v", "-z", "--", *paths).split(b"\0")
    return {entry[2:].decode("utf-8", "surrogateescape") for entry in listed if entry and entry[:2] != b"H "}


def _converting(root: Path, paths: list[str]) -> set[str]:
    """The paths git may check out as other bytes than the blob's of the same size."""
    if not paths:
        return set()
    answer = _git(root, "check-attr", "-z", *_CONVERTING_ATTRIBUTES, "--", *paths).split(b"\0")
    converting = set()
    for at in range(0, len(answer) - 2, 3):
        path, value = answer[at].decode("utf-8", "surrogateescape"), answer[at + 2]
        if value not in (b"unspecified", b"unset"):
            converting.add(path)
    return converting


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open_regular(path, name=str(path)) as stream:
            while chunk := stream.read(1 << 22):
                digest.update(chunk)
    except (Refused, OSError):
        return None
    return digest.hexdigest()


# --- an entry: the typed table as Arrow, the rest as JSON in its metadata ---------------------------


def _write_entry(path: Path, key: str, typed: TypedTable, findings: list[Finding], written_to: list[int]) -> None:
    import pandas as pd
    import pyarrow as pa

    frame, text = typed.frame, typed.text
    names = typed.spec.field_names
    if list(frame.columns) != names or list(text.columns) != names or not frame.index.equals(text.index):
        raise ValueError("not the table the schema gives")  # never stored: read afresh each time
    bad = [name for name in names if bool(typed.bad_cells[name].any())]
    columns = {f"frame:{name}": frame[name] for name in _typed_fields(typed.spec)}
    columns.update({f"text:{name}": text[name] for name in names})
    columns.update({f"bad:{name}": typed.bad_cells[name] for name in bad})
    table = pa.Table.from_pandas(pd.DataFrame(columns, index=frame.index), preserve_index=True)
    lines = list(typed.record_lines)
    metadata = {
        "format": FORMAT,
        "key": key,
        "written_to": written_to,
        "findings": [asdict(f) for f in findings],
        "blank_lines": sorted(typed.blank_lines),
        "padded_cells": sorted([line, column] for line, column in typed.padded_cells),
        "plain_text": typed.plain_text,
        # the records' lines, where they are not the rows' lines and the blank rows' in order
        "lines": None if lines == sorted({*frame.index.tolist(), *typed.blank_lines}) else lines,
        "bad": bad,
    }
    _write_arrow(path, table, metadata)


def _write_arrow(path: Path, table, metadata: dict) -> None:
    """``table`` with ``metadata`` as JSON in its schema, as an Arrow IPC file."""
    import pyarrow as pa

    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _METADATA: json.dumps(metadata)})
    # Compressed a buffer at a time: a fraction of the bytes on disk, and each column read into its own
    # memory, so that the columns let go once a table is checked are given back.
    options = pa.ipc.IpcWriteOptions(compression=COMPRESSION)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)


class DeferredTable(TypedTable):
    """A kept table whose cells are read from its entry when a check first uses them (``frame``,
    ``text``, ``record_lines``, ``bad_cells``): an unchanged table whose every check is kept is
    never read whole. What is to be done to it once read waits in :meth:`when_loaded`."""

    def __init__(
        self,
        spec: TableSpec,
        relpath: str,
        *,
        rows: int,
        blank_lines: set[int],
        padded_cells: set[tuple[int, str]],
        plain_text: bool,
        load: Callable[[], TypedTable],
    ) -> None:
        self.spec, self.relpath = spec, relpath
        self.blank_lines, self.padded_cells, self.plain_text = blank_lines, padded_cells, plain_text
        self._rows, self._load = rows, load
        self._table: TypedTable | None = None
        self._then: list[Callable[[TypedTable], None]] = []

    @property
    def loaded(self) -> bool:
        return self._table is not None

    @property
    def row_count(self) -> int:
        return self._rows

    def whole(self) -> TypedTable:
        if self._table is None:
            table = self._load()
            for step in self._then:
                step(table)
            self._table, self._then = table, []
        return self._table

    def when_loaded(self, step: Callable[[TypedTable], None]) -> None:
        """``step(table)`` once the cells are read (now, if they are)."""
        if self._table is None:
            self._then.append(step)
        else:
            step(self._table)


def _delegated(name: str) -> property:
    return property(lambda self: getattr(self.whole(), name), lambda self, value: setattr(self.whole(), name, value))


for _cells in ("frame", "text", "record_lines", "bad_cells"):
    setattr(DeferredTable, _cells, _delegated(_cells))


def _read_entry_head(
    path: Path, key: str, trust_copied: bool
) -> tuple[list[Finding], int, set[int], set[tuple[int, str]], bool] | None:
    """An entry's findings, its table's size, blank lines, padded cells and whether its text is plain,
    with no cell read; None for a miss (raises for an entry that is not one: also a miss)."""
    import pyarrow as pa

    with _opened(path, key, _ENTRY_FIELDS, trust_copied) as opened:
        if opened is None:
            return None
        stream, reader, entry = opened
        names = reader.schema.names
        if not names or names[-1] != "line":
            return None
        stream.seek(0)  # the same file again, for the line column alone: its length is the table's
        only_lines = pa.ipc.IpcReadOptions(included_fields=[len(names) - 1])
        lines = pa.ipc.open_file(stream, options=only_lines).read_all()
    lines.validate(full=True)
    if lines.column_names != ["line"]:
        return None
    findings = _findings(entry["findings"])
    if findings is None or not isinstance(entry["blank_lines"], list):
        return None
    if not isinstance(entry["padded_cells"], list) or not all(
        isinstance(cell, list) and len(cell) == 2 and type(cell[0]) is int and isinstance(cell[1], str)
        for cell in entry["padded_cells"]
    ):
        return None
    if not all(type(line) is int for line in entry["blank_lines"]) or not isinstance(entry["plain_text"], bool):
        return None
    blank = set(entry["blank_lines"])
    padded = {(line, column) for line, column in entry["padded_cells"]}
    return findings, lines.num_rows, blank, padded, entry["plain_text"]  # type: ignore[return-value]


@contextmanager
def _opened(path: Path, key: str, fields: set[str], trust_copied: bool) -> Iterator[tuple[Any, Any, dict] | None]:
    """(stream, IPC reader, metadata) of the entry at ``path`` if it is one of ``key`` with ``fields``
    that this cache wrote (or, ``trust_copied``, that was copied in); else None. Raises for a file
    that is not Arrow: also a miss, to the caller."""
    import pyarrow as pa

    if os.path.islink(path):
        yield None
        return
    try:
        stream = open_regular(path, name="a table cache entry")
    except (Refused, OSError):
        yield None
        return
    with stream:
        # Read, not mapped: once a table is checked its columns are let go, and mapped pages would stay.
        reader = pa.ipc.open_file(stream)
        raw = (reader.schema.metadata or {}).get(_METADATA)
        entry = json.loads(raw) if raw is not None and len(raw) <= MAX_METADATA_BYTES else None
        if not isinstance(entry, dict) or set(entry) != fields or entry["format"] != FORMAT or entry["key"] != key:
            yield None
            return
        info = os.fstat(stream.fileno())
        if not trust_copied and entry["written_to"] != [info.st_dev, info.st_ino]:
            yield None  # copied, extracted or moved here: not an entry this cache wrote
            return
        yield stream, reader, entry


def _findings(items: object) -> list[Finding] | None:
    """Kept findings, or None when any is not one."""
    if not isinstance(items, list):
        return None
    findings = [result_cache.finding_from(item) for item in items]
    return None if any(f is None for f in findings) else findings  # type: ignore[return-value]


def _read_entry(path: Path, key: str, spec: TableSpec, relpath: str, trust_copied: bool):
    import numpy as np
    import pandas as pd

    with _opened(path, key, _ENTRY_FIELDS, trust_copied) as opened:
        if opened is None:
            return None
        _, reader, entry = opened
        names = spec.field_names
        bad = entry["bad"]
        if not isinstance(bad, list) or not set(bad) <= set(names):
            return None
        typed_fields = _typed_fields(spec)
        expected = [
            *(f"frame:{n}" for n in typed_fields),
            *(f"text:{n}" for n in names),
            *(f"bad:{n}" for n in bad),
            "line",
        ]
        if reader.schema.names != expected:
            return None
        table = reader.read_all()
    table.validate(full=True)  # offsets and UTF-8 checked before any kernel reads them
    whole = table.to_pandas()
    if whole.index.name != "line" or whole.index.dtype != "int64" or not whole.index.is_unique:
        return None
    findings = _findings(entry["findings"])
    if findings is None:
        return None
    text = whole[[f"text:{n}" for n in names]].set_axis(names, axis=1)
    if not all(isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA for dtype in text.dtypes):
        return None
    frame = pd.DataFrame(
        {
            n: whole[f"frame:{n}"] if n in typed_fields else parse_column(text[n], f, spec.missing_values).values
            for n, f in zip(names, spec.fields)
        },
        index=whole.index,
    )
    if [str(dtype) for dtype in frame.dtypes] != [spec.field(n).pandas_dtype for n in names]:
        return None  # the parse gives each column its field's dtype; an entry that does not is not its table
    blank = {int(line) for line in entry["blank_lines"]}
    lines = (
        [int(line) for line in entry["lines"]]
        if entry["lines"] is not None
        else sorted({*whole.index.tolist(), *blank})
        if blank
        else whole.index.tolist()  # in the file's order: ascending
    )
    typed = TypedTable(
        spec=spec,
        relpath=relpath,
        frame=frame,
        text=text,
        record_lines=lines,
        blank_lines=blank,
        padded_cells={(int(line), str(column)) for line, column in entry["padded_cells"]},
        bad_cells={
            name: whole[f"bad:{name}"].astype(bool).rename(None)
            if name in bad
            else pd.Series(np.zeros(len(whole), dtype=bool), index=whole.index)
            for name in names
        },
        plain_text=bool(entry["plain_text"]),
    )
    return typed, findings


# --- what a rule gathered: its arrays as Arrow, the rest as JSON in the metadata ---------------------


def _write_gathered(path: Path, key: str, findings: list[Finding], gathered: dict, written_to: list[int]) -> None:
    shape, arrays = kept_state.encode(gathered)
    table = kept_state.to_columns(arrays)
    metadata = {
        "format": FORMAT,
        "key": key,
        "written_to": written_to,
        "findings": [asdict(f) for f in findings],
        "shape": shape,
    }
    _write_arrow(path, table, metadata)


def _read_gathered(path: Path, key: str, trust_copied: bool) -> tuple[list[Finding], dict] | None:
    with _opened(path, key, _GATHERED_FIELDS, trust_copied) as opened:
        if opened is None:
            return None
        _, reader, entry = opened
        table = reader.read_all()
    table.validate(full=True)  # offsets and UTF-8 checked before anything reads them
    findings = _findings(entry["findings"])
    if findings is None:
        return None
    gathered = kept_state.decode(entry["shape"], kept_state.from_columns(table))
    if not isinstance(gathered, dict):
        return None
    return findings, gathered


def _typed_fields(spec: TableSpec) -> list[str]:
    """The fields whose typed column is kept: a text field of no particular form is its cells with
    the missing values made NA, made again from the cells in less time than read."""
    return [f.name for f in spec.fields if not (f.type == "string" and f.lexical_pattern is None)]


def _prune(folder: Path, table: str, suffix: str = ".arrow") -> None:
    entries = []
    for entry in os.scandir(folder):
        ours = entry.name.startswith(f"{table}-") and entry.name.endswith(suffix)
        if ours and entry.is_file(follow_symlinks=False):
            entries.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
    for _, path in sorted(entries, reverse=True)[KEPT_PER_TABLE:]:
        os.unlink(path)
