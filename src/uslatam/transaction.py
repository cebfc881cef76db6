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
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .files import write_atomic

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

        self.state = root / STATE_DIR
        self.state.mkdir(exist_ok=True)
        self.timeout = timeout
        self.lock = FileLock(str(self.state / LOCK))

    def __enter__(self) -> PackageLock:
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=self.timeout)
        except Timeout:
            owner = "an unknown process"
            try:
                info = json.loads((self.state / OWNER).read_text(encoding="utf-8"))
                owner = f"process {info['pid']} ({info['command']}, since {info['since']})"
            except (OSError, ValueError, KeyError):
                pass
            raise LockTimeout(
                f"the package is locked by {owner}; waited {self.timeout:g} s. Try again when it has finished."
            ) from None
        info = {
            "pid": os.getpid(),
            "command": " ".join(sys.argv[:3]) or "python",
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (self.state / OWNER).write_text(json.dumps(info), encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        try:
            (self.state / OWNER).unlink(missing_ok=True)
        finally:
            self.lock.release()


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
            target = self.root / relpath
            if not target.is_file() or target.read_bytes() != data:
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
                    with open(temporary, "wb") as stream:
                        written.append(temporary)
                        stream.write(data)
                        stream.flush()
                        os.fsync(stream.fileno())
                except OSError as error:
                    raise TransactionError(f"cannot write {relpath}: {error.strerror or error}") from error
                old = target.read_bytes() if target.is_file() else None
                moves.append(
                    {
                        "path": relpath,
                        "temporary": str(temporary.relative_to(self.root)),
                        "before": _sha256(old) if old is not None else None,
                        "after": _sha256(data),
                    }
                )
            _crash_point("staged")
            journal = self.root / STATE_DIR / JOURNAL
            journal.parent.mkdir(exist_ok=True)
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
    for folder in [root, *[p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]]:
        yield from (p for p in folder.iterdir() if p.name.startswith(".") and TEMP_MARK in p.name)


def recover(root: str | Path) -> str | None:
    """Finish or undo an interrupted change (caller holds the lock); say which, or None."""
    root = Path(root)
    journal = root / STATE_DIR / JOURNAL
    if journal.exists():
        try:
            moves = json.loads(journal.read_text(encoding="utf-8"))["moves"]
        except (OSError, ValueError, KeyError):
            moves = None
        if moves is not None:
            _roll_forward(root, moves)
            _clean_temps(root)
            return "finished an interrupted change"
        journal.unlink()  # a torn journal was never the commit point (write_atomic): undo
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
