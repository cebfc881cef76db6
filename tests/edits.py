"""Random edits of a package checkout, of the kinds a pull request makes: for the differential tests
that compare a report made with kept results (the caches) with a full run's."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

KINDS = ("change", "add", "delete", "schema", "source", "undeclared", "descriptor", "hidden", "symlink", "revert")


def table_lines(root: Path, table: str) -> list[str]:
    return (root / "data" / f"{table}.csv").read_text(encoding="utf-8").splitlines(keepends=True)


def random_edit(root: Path, rng: random.Random, kinds: tuple[str, ...] = KINDS) -> str:
    """One random edit of the kinds a pull request makes; returns what it did."""
    tables = sorted(p.stem for p in (root / "data").glob("*.csv"))
    kind = rng.choice(kinds)
    table = rng.choice(tables)
    lines = table_lines(root, table)
    path = root / "data" / f"{table}.csv"
    if kind == "change" and len(lines) > 1:
        line = rng.randrange(1, len(lines))
        cells = lines[line].rstrip("\n").split(",")
        other = lines[rng.randrange(1, len(lines))][:5]
        cells[rng.randrange(len(cells))] = rng.choice(["", "x", "2017-13-40", "-1", other])
        lines[line] = ",".join(cells) + "\n"
        path.write_text("".join(lines), encoding="utf-8")
    elif kind == "add" and len(lines) > 1:
        lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(lines[1:]))
        path.write_text("".join(lines), encoding="utf-8")
    elif kind == "delete" and len(lines) > 2:
        del lines[rng.randrange(1, len(lines))]
        path.write_text("".join(lines), encoding="utf-8")
    elif kind == "schema":
        schema_path = root / "schemas" / f"{table}.json"
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        field = rng.choice(schema["fields"])
        constraints = field.setdefault("constraints", {})
        if constraints.pop("required", None) is None:
            constraints["maxLength"] = rng.choice([1, 3, 10])
        schema_path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    elif kind == "source":
        text = next((root / "sources").glob("*.txt"))
        words = text.read_text(encoding="utf-8")
        cut = rng.randrange(len(words))
        text.write_text(words[:cut] + rng.choice(["", " inserted ", "\n"]) + words[cut + 1 :], encoding="utf-8")
    elif kind == "undeclared":
        (root / "data" / f"stray{rng.randrange(3)}.csv").write_text("a\n1\n", encoding="utf-8")
    elif kind == "hidden":  # a listing counts hidden entries too
        hidden = root / "data" / ".hidden"
        hidden.rmdir() if hidden.exists() else hidden.mkdir()
    elif kind == "symlink" and not path.is_symlink():
        moved = root / "moved" / path.name
        moved.parent.mkdir(exist_ok=True)
        path.replace(moved)
        path.symlink_to(os.path.relpath(moved, path.parent))
    elif kind == "descriptor":
        descriptor = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
        descriptor["title"] = rng.choice(["", "A title", descriptor.get("title", "")])
        (root / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
    else:  # back to the committed state: the report made for it before comes from the cache
        subprocess.run(["git", "-C", str(root), "checkout", "-q", "--", "."], check=True)
        subprocess.run(["git", "-C", str(root), "clean", "-qfd", "--", "data"], check=True)
    return f"{kind} {table}"


def unseen_edit(root: Path, rng: random.Random) -> str:
    """An edit git may not report: a table's line ends made CR LF (with ``text eol=lf`` git compares
    them as LF), or two characters of a row swapped (the size stays)."""
    tables = sorted(p.stem for p in (root / "data").glob("*.csv") if not p.is_symlink())
    table = rng.choice(tables)
    path = root / "data" / f"{table}.csv"
    data = path.read_bytes()
    if rng.random() < 0.5:
        path.write_bytes(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        return f"crlf {table}"
    lines = data.split(b"\n")
    line = rng.randrange(1, max(2, len(lines) - 1))
    row = bytearray(lines[line])
    if len(row) > 2:
        at = rng.randrange(len(row) - 1)
        row[at], row[at + 1] = row[at + 1], row[at]
        lines[line] = bytes(row)
    path.write_bytes(b"\n".join(lines))
    return f"swap {table}:{line}"
