"""A change journal is replayed only when this tool wrote it, here: foreign journals move nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from uslatam.transaction import JOURNAL, STATE_DIR, TEMP_MARK, UntrustedJournal, journal_problem, recover

from . import test_add
from .conftest import uslatam
from .test_add import TACKLE_JOINTLY, snapshot

real_package_without_one_quote = test_add.without_tackle_jointly  # the fixture, shared


def _journal(package: Path, moves: list[dict], token: str = "0123abcd") -> None:
    (package / STATE_DIR).mkdir(exist_ok=True)
    (package / STATE_DIR / JOURNAL).write_text(json.dumps({"token": token, "moves": moves}), encoding="utf-8")


def _planted_temporary(package: Path, relpath: str, data: bytes, token: str = "0123abcd") -> dict:
    """A temporary file as this tool names it, with the hash it would record: only the inode is not ours."""
    target = package / relpath
    temporary = target.parent / f".{target.name}{TEMP_MARK}{token}"
    temporary.write_bytes(data)
    info = temporary.stat()
    return {
        "path": relpath,
        "temporary": str(temporary.relative_to(package)),
        "before": None,
        "after": hashlib.sha256(data).hexdigest(),
        "file": [info.st_dev, info.st_ino + 1],
    }


def _everything(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but the lock itself (taking the lock is allowed; moving files is not)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith("lock")
    }


HOSTILE_JOURNALS = {
    "move-outside": lambda package: [{"path": "../outside.csv", "temporary": "data/.x.uslatam-tmp-0123abcd"}],
    "absolute-target": lambda package: [{"path": "/tmp/owned.csv", "temporary": "data/.x.uslatam-tmp-0123abcd"}],
    "temporary-outside": lambda package: [
        {"path": "data/entities.csv", "temporary": "../../etc/passwd", "after": "0" * 64, "file": [0, 0]}
    ],
    "hidden-target": lambda package: [{"path": ".git/config", "temporary": ".git/.config.uslatam-tmp-0123abcd"}],
    "planted-temporary": lambda package: [_planted_temporary(package, "data/entities.csv", b"entity_id\nowned\n")],
    "not-a-list": lambda package: {"path": "data/entities.csv"},
}


@pytest.mark.parametrize("case", sorted(HOSTILE_JOURNALS))
def test_a_foreign_journal_is_refused_and_nothing_moves(package_copy: Path, tmp_path: Path, case: str) -> None:
    moves = HOSTILE_JOURNALS[case](package_copy)
    _journal(package_copy, moves)  # type: ignore[arg-type]
    before, outside_before = _everything(package_copy), _everything(tmp_path)
    result = uslatam("recover", cwd=package_copy)
    assert result.returncode == 1, result.stderr
    assert "untrusted-journal" in result.stderr and ".uslatam/journal.json" in result.stderr
    assert "Traceback" not in result.stderr
    assert _everything(package_copy) == before
    assert _everything(tmp_path) == outside_before
    assert not Path("/tmp/owned.csv").exists()
    assert journal_problem(package_copy).code == "untrusted-journal"


@pytest.mark.parametrize("command", ["add", "recover", "rehash"])
def test_writing_commands_refuse_to_run_over_a_foreign_journal(package_copy: Path, command: str) -> None:
    _journal(package_copy, HOSTILE_JOURNALS["planted-temporary"](package_copy))
    (package_copy / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    before = snapshot(package_copy)
    result = uslatam(*([command, "quote.yaml"] if command == "add" else [command]), cwd=package_copy)
    assert result.returncode in (1, 2) and "journal.json" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(package_copy) == before


def test_a_journal_copied_with_its_package_is_not_replayed(
    real_package_without_one_quote: Path, tmp_path: Path
) -> None:
    """The same journal is replayed where it was written, and refused in a copy (new inodes)."""
    package_copy = real_package_without_one_quote
    (package_copy / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    killed = uslatam("add", "quote.yaml", cwd=package_copy, env={"USLATAM_CRASH_AT": "journaled"})
    assert killed.returncode == 137
    copy = tmp_path / "copy"
    shutil.copytree(package_copy, copy)
    before = _everything(copy)
    with pytest.raises(UntrustedJournal, match="is not the file this tool wrote"):
        recover(copy)
    assert _everything(copy) == before
    assert recover(package_copy) == "finished an interrupted change"
    assert not (package_copy / STATE_DIR / JOURNAL).exists()


def test_a_state_folder_symlinked_out_of_the_package_is_refused(package_copy: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, package_copy / STATE_DIR)
    (package_copy / "quote.yaml").write_text(TACKLE_JOINTLY, encoding="utf-8")
    before = snapshot(package_copy)
    result = uslatam("add", "quote.yaml", cwd=package_copy)
    assert result.returncode == 2 and ".uslatam" in result.stderr and "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []
    assert snapshot(package_copy) == before


@pytest.mark.parametrize("link", ["symlink", "hard link"])
def test_the_lock_owner_file_is_never_written_through_a_link(package_copy: Path, tmp_path: Path, link: str) -> None:
    """A `.uslatam/lock.owner` arriving as a link to a file outside is replaced, never written through."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n", encoding="utf-8")
    (package_copy / STATE_DIR).mkdir(exist_ok=True)
    owner = package_copy / STATE_DIR / "lock.owner"
    (os.symlink if link == "symlink" else os.link)(outside, owner)
    for command in ("recover", "rehash"):
        result = uslatam(command, cwd=package_copy)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert outside.read_text(encoding="utf-8") == "not yours\n", command
