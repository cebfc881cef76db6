"""Changing several files of a package as one atomic change.

The sequence (git's and SQLite's, for files):

1. take the package lock (a kernel lock that dies with its process);
2. write every new file to a temporary file beside its target, and fsync it;
3. write the journal (the list of moves, with the hashes before and after) atomically:
   this is the commit point;
4. move every temporary file into place, fsyncing the folders;
5. delete the journal.

A crash before step 3 leaves only temporary files, which :func:`recover` deletes:
the package is exactly as before. A crash after it leaves a journal, which
:func:`recover` rolls forward: the package is exactly as after. Every writing
command recovers first, under the lock.

A journal may also arrive with a package (a pull request, a copied folder), so one is
replayed only when it proves it is this tool's, on this disk: every path lies inside
the package, each temporary file has the name the journal's random token gives it,
and each file to move is the very file (device and inode, which a rename keeps) that
the commit wrote, with the bytes the journal's hash says. A checkout or copy makes new
inodes, so a journal that came from elsewhere never matches; it is refused with a
finding (``untrusted-journal``) and nothing moves.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .boundary import DEFAULT_LIMITS, Refused, check_path, is_inside, load_json, open_regular, package_bytes
from .files import write_atomic
from .report import Finding

STATE_DIR = ".uslatam"
JOURNAL = "journal.json"
LOCK = "lock"
OWNER = "lock.owner"
TEMP_MARK = ".uslatam-tmp-"
CRASH_ENV = "USLATAM_CRASH_AT"
STEPS = ("staged", "journaled", "moved-first", "moved-all", "done")
"""Named steps of a commit; a test may stop the process at each (``USLATAM_CRASH_AT``)."""


class TransactionError(RuntimeError):
    """A change could not be written; the message names the file. Nothing was changed."""


class LockTimeout(TransactionError):
    pass


class UntrustedJournal(TransactionError):
    """A journal this tool cannot prove it wrote here; ``finding`` says why. Nothing was moved."""

    def __init__(self, finding: Finding):
        super().__init__(f"{finding.file}: {finding.message}. {finding.hint}")
        self.finding = finding


def _crash_point(step: str) -> None:
    # Simulated crash for the crash-safety tests: stop at once, as a kill would.
    if os.environ.get(CRASH_ENV) == step:
        os._exit(137)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class PackageLock:
    """The package's write lock, naming its holder when another process waits too long."""

    def __init__(self, root: Path, timeout: float):
        from filelock import FileLock

        self.state = state_folder(root)
        self.timeout = timeout
        self.lock = FileLock(str(self.state / LOCK))

    def __enter__(self) -> PackageLock:
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=self.timeout)
        except Timeout:
            owner = "an unknown process"
            owner_file = self.state / OWNER
            info = None
            if not owner_file.is_symlink():  # never read through a link out of the package
                info, _ = load_json(owner_file, limits=DEFAULT_LIMITS, file=f"{STATE_DIR}/{OWNER}")
            if isinstance(info, dict) and {"pid", "command", "since"} <= info.keys():
                owner = f"process {info['pid']} ({info['command']}, since {info['since']})"
            raise LockTimeout(
                f"the package is locked by {owner}; waited {self.timeout:g} s. Try again when it has finished."
            ) from None
        info = {
            "pid": os.getpid(),
            "command": " ".join(sys.argv[:3]) or "python",
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        try:
            _write_new(self.state / OWNER, json.dumps(info))
        except TransactionError:
            self.lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            (self.state / OWNER).unlink(missing_ok=True)
        finally:
            self.lock.release()


def _write_new(path: Path, text: str) -> None:
    """Write a file of ``.uslatam/`` afresh: whatever stood at the name (a symlink or a hard link
    out of the package, arrived with it) is unlinked, never followed or written through."""
    try:
        path.unlink(missing_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as error:
        raise TransactionError(f"cannot write {path}: {error.strerror or error}; delete it and try again") from None
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)


def state_folder(root: Path) -> Path:
    """``.uslatam/``, created if needed; refused if it is a symlink or anything but a folder of the package."""
    state = root / STATE_DIR
    try:
        state.mkdir(exist_ok=True)
    except OSError as error:
        raise TransactionError(f"cannot write {state}: {error.strerror or error}") from None
    if state.is_symlink() or not state.is_dir() or not is_inside(root, state):
        raise TransactionError(f"{state} is not a folder of the package (a symlink?); delete it and try again")
    return state


@dataclass
class Change:
    """The new bytes of each file one command changes, staged until :meth:`commit`."""

    root: Path
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> new bytes

    def stage(self, relpath: str, data: bytes) -> None:
        self.files[relpath] = data

    def changed(self) -> dict[str, bytes]:
        """Only the files whose bytes differ from what is on disk."""
        result = {}
        for relpath, data in self.files.items():
            if _current(self.root, relpath) != data:
                result[relpath] = data
        return result

    def commit(self) -> list[str]:
        """Write every staged file as one atomic change (caller holds the lock)."""
        changed = self.changed()
        if not changed:
            return []
        token = secrets.token_hex(4)
        moves = []
        written: list[Path] = []
        try:
            for relpath, data in changed.items():
                target = self.root / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                temporary = target.parent / f".{target.name}{TEMP_MARK}{token}"
                try:
                    with open(temporary, "xb") as stream:
                        written.append(temporary)
                        stream.write(data)
                        stream.flush()
                        os.fsync(stream.fileno())
                        made = os.fstat(stream.fileno())
                except OSError as error:
                    raise TransactionError(f"cannot write {relpath}: {error.strerror or error}") from error
                old = _current(self.root, relpath)
                moves.append(
                    {
                        "path": relpath,
                        "temporary": str(temporary.relative_to(self.root)),
                        "before": _sha256(old) if old is not None else None,
                        "after": _sha256(data),
                        "file": [made.st_dev, made.st_ino],
                    }
                )
            _crash_point("staged")
            journal = state_folder(self.root) / JOURNAL
            try:
                write_atomic(journal, json.dumps({"token": token, "moves": moves}, indent=1).encode())
            except OSError as error:
                raise TransactionError(f"cannot write the journal {journal}: {error.strerror or error}") from error
        except BaseException:
            for temporary in written:
                temporary.unlink(missing_ok=True)
            raise
        _crash_point("journaled")
        _roll_forward(self.root, moves)
        _crash_point("done")
        return sorted(changed)


def _current(root: Path, relpath: str) -> bytes | None:
    """The bytes a change would replace (None for a new file), through the trust boundary."""
    try:
        return package_bytes(root, relpath, what="a file to change", limit=DEFAULT_LIMITS.max_file_bytes)
    except Refused as refused:
        if refused.finding.code == "missing-file":
            return None
        raise TransactionError(f"cannot change {relpath}: {refused.finding.message}") from None


def _roll_forward(root: Path, moves: list[dict]) -> None:
    folders = set()
    for number, move in enumerate(moves):
        temporary = root / move["temporary"]
        if temporary.exists():
            os.replace(temporary, root / move["path"])
            folders.add((root / move["path"]).parent)
        if number == 0:
            _crash_point("moved-first")
    for folder in folders:
        _fsync_dir(folder)
    _crash_point("moved-all")
    (root / STATE_DIR / JOURNAL).unlink(missing_ok=True)


def interrupted(root: Path) -> bool:
    """True when a change was cut off and :func:`recover` has work to do."""
    if (root / STATE_DIR / JOURNAL).exists():
        return True
    return any(TEMP_MARK in p.name for p in _candidate_temps(root))


def _candidate_temps(root: Path):
    for folder in [
        root,
        *[p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")],
    ]:
        yield from (
            p
            for p in folder.iterdir()
            if p.name.startswith(".") and TEMP_MARK in p.name and p.is_file() and not p.is_symlink()
        )


def journal_problem(root: Path) -> Finding | None:
    """Why the journal in ``root`` must not be replayed, or None when it is this tool's own (or absent)."""
    try:
        _trusted_moves(Path(root))
    except UntrustedJournal as refused:
        return refused.finding
    return None


def _untrusted(reason: str) -> UntrustedJournal:
    return UntrustedJournal(
        Finding(
            "untrusted-journal",
            f"the change journal cannot be replayed: {reason}; nothing was moved",
            file=f"{STATE_DIR}/{JOURNAL}",
        )
    )


def _trusted_moves(root: Path) -> list[dict] | None:
    """The journal's moves once every one is proven this tool's; None without a journal; raises otherwise."""
    journal = root / STATE_DIR / JOURNAL
    if not journal.exists() and not journal.is_symlink():
        return None
    if journal.is_symlink() or (root / STATE_DIR).is_symlink():
        raise _untrusted("it is a symlink")
    data, findings = load_json(journal, limits=DEFAULT_LIMITS, file=f"{STATE_DIR}/{JOURNAL}")
    if data is None or findings:
        raise _untrusted("it is not readable JSON" + (f" ({findings[0].message})" if findings else ""))
    token = data.get("token") if isinstance(data, dict) else None
    moves = data.get("moves") if isinstance(data, dict) else None
    if not (isinstance(token, str) and len(token) == 8 and all(c in "0123456789abcdef" for c in token)):
        raise _untrusted("its token is not one this tool makes")
    if not isinstance(moves, list) or not moves:
        raise _untrusted("it lists no moves")
    for move in moves:
        _check_move(root, move, token)
    return moves


def _check_move(root: Path, move: object, token: str) -> None:

    if not isinstance(move, dict) or not isinstance(move.get("path"), str):
        raise _untrusted("a move is not an object with a path")
    relpath = move["path"]
    problem = check_path(root, relpath, what="a journalled path", file=f"{STATE_DIR}/{JOURNAL}")
    if problem is not None:
        raise _untrusted(problem.message)
    target = root / relpath
    expected_temporary = (PurePosixPath(relpath).parent / f".{target.name}{TEMP_MARK}{token}").as_posix()
    if move.get("temporary") != expected_temporary.removeprefix("./"):
        raise _untrusted(f"the temporary file of {relpath} is not the one this tool would have named")
    made = move.get("file")
    after = move.get("after")
    if not (isinstance(made, list) and len(made) == 2 and all(isinstance(n, int) for n in made)):
        raise _untrusted(f"the move of {relpath} does not say which file was written")
    temporary = root / expected_temporary
    present = temporary if temporary.exists() or temporary.is_symlink() else target
    try:
        info = os.lstat(present)
    except OSError:
        raise _untrusted(f"neither {relpath} nor its temporary file exists") from None
    if not stat.S_ISREG(info.st_mode) or [info.st_dev, info.st_ino] != made:
        raise _untrusted(f"{present.relative_to(root)} is not the file this tool wrote")
    try:
        with open_regular(present, name=str(present.relative_to(root))) as stream:
            digest = hashlib.sha256()
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except Refused as refused:
        raise _untrusted(refused.finding.message) from None
    if digest.hexdigest() != after:
        raise _untrusted(f"{present.relative_to(root)} does not hold the bytes the journal names")


def recover(root: str | Path) -> str | None:
    """Finish or undo an interrupted change (caller holds the lock); say which, or None.

    Raises :class:`UntrustedJournal` (and moves nothing) for a journal it cannot prove it wrote.
    """
    root = Path(root)
    journal = root / STATE_DIR / JOURNAL
    if journal.exists() or journal.is_symlink():
        moves = _trusted_moves(root)  # write_atomic never leaves a torn journal: anything unproven is foreign
        if moves is not None:
            _roll_forward(root, moves)
            _clean_temps(root)
            return "finished an interrupted change"
    if _clean_temps(root):
        return "undid an interrupted change"
    return None


def _clean_temps(root: Path) -> bool:
    found = False
    for temporary in list(_candidate_temps(root)):
        temporary.unlink(missing_ok=True)
        found = True
    return found


def apply(root: str | Path, files: dict[str, bytes], *, lock_timeout: float = 10.0) -> list[str]:
    """Lock, recover, then write ``files`` (relative path -> bytes) as one atomic change."""
    root = Path(root)
    with PackageLock(root, lock_timeout):
        recover(root)
        change = Change(root)
        for relpath, data in files.items():
            change.stage(relpath, data)
        return change.commit()
