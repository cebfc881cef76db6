"""The trust boundary: every byte read from a package or from an input file comes through here.

A package may be a stranger's pull request, so nothing it names is opened before its
path is proven to stay inside the package; only regular files are read (a FIFO or a
device is refused without blocking on it); every read, nesting depth and count has a
documented limit; bytes that do not decode are a finding, not a traceback; and no URL
is ever fetched (:func:`offline` refuses every connection while a command runs).

What comes back is data or a :class:`Refused` carrying the finding that names the file.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import stat
import sys
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, ParamSpec, TypeVar

from .paths import TOOL_HIDDEN_FILES
from .report import Finding

DESCRIPTOR = "datapackage.json"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Limits:
    """Documented limits: input beyond them is answered at once, never read in full."""

    max_descriptor_bytes: int = 4 * 1024 * 1024
    max_json_depth: int = 64
    max_file_bytes: int = 2 * 1024**3
    max_cell_chars: int = 100_000
    max_columns: int = 1_000
    max_resources: int = 1_000
    max_text_bytes: int = 64 * 1024 * 1024  # a source text, CITATION.cff, CHANGELOG.md, an input file
    max_yaml_nodes: int = 100_000


DEFAULT_LIMITS = Limits()

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


UNREADABLE = (
    "unsafe-path",
    "remote-path",
    "missing-file",
    "package-error",
    "schema-error",
    "not-a-regular-file",
    "unreadable-file",
    "file-too-large",
)
"""Codes of package.load findings that leave a table unread: a command that needs every table stops on them."""


class Refused(Exception):
    """Input refused at the boundary; ``finding`` names the file and says why."""

    def __init__(self, finding: Finding):
        super().__init__(f"{finding.file}: {finding.message}" if finding.file else finding.message)
        self.finding = finding


def is_url(value: str) -> bool:
    """A URL (any scheme, or a //host/share path); a Windows drive letter is not one."""
    return bool(_URL.match(value) and not re.match(r"^[A-Za-z]:[\\/]", value)) or value.startswith("//")


# --- paths ---------------------------------------------------------------------------


def check_path(root: Path, value: object, *, what: str, file: str = DESCRIPTOR) -> Finding | None:
    """A finding if ``value`` is not a safe relative path inside ``root``, else None."""
    if not isinstance(value, str) or not value:
        return Finding(
            "resource-error", f"{what} must be a non-empty relative path, not {value!r}", file=file, value=repr(value)
        )
    if is_url(value):
        return Finding("remote-path", f"{what} {value!r} is a URL; URLs are never fetched", file=file, value=value)
    if "\\" in value or value.startswith("/") or _WINDOWS_DRIVE.match(value):
        return Finding(
            "unsafe-path",
            f"{what} {value!r} is absolute or uses backslashes",
            file=file,
            value=value,
            expected="a relative POSIX path inside the package",
        )
    parts = PurePosixPath(value).parts
    if any(part in ("..", ".") for part in value.split("/")):
        return Finding(
            "unsafe-path",
            f"{what} {value!r} contains '.' or '..'",
            file=file,
            value=value,
            expected="a relative path without '.' or '..'",
        )
    if any(part.startswith(".") for part in parts) and value not in TOOL_HIDDEN_FILES:
        return Finding(
            "unsafe-path",
            f"{what} {value!r} goes into a hidden file or folder",
            file=file,
            value=value,
            expected="no part starting with '.'",
        )
    if not is_inside(root, root / value):
        return Finding(
            "unsafe-path",
            f"{what} {value!r} leads outside the package (through a symlink)",
            file=file,
            value=value,
            expected="a path that stays inside the package",
        )
    return None


def is_inside(root: Path, path: Path) -> bool:
    """True when ``path``, every symlink resolved, lies inside ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
        return False
    return True


def contained(root: Path, relpath: str, *, what: str, file: str = DESCRIPTOR) -> Path:
    """``root / relpath`` once proven safe; :class:`Refused` otherwise."""
    problem = check_path(root, relpath, what=what, file=file)
    if problem is not None:
        raise Refused(problem)
    return root / relpath


# --- reading bytes ---------------------------------------------------------------------

_NOT_FOUND = (errno.ENOENT, errno.ENOTDIR)


def open_regular(path: Path, *, name: str, table: str | None = None) -> BinaryIO:
    """A binary stream of the regular file ``path``, opened without blocking on a FIFO or device."""
    handle = _open_regular(path, name=name, table=table)
    return os.fdopen(handle, "rb")


def _open_regular(path: Path, *, name: str, table: str | None) -> int:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        raise _read_fault(error, name, table) from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(
                Finding(
                    "not-a-regular-file",
                    f"{name} is {_kind(info.st_mode)}, not a regular file",
                    table=table,
                    file=name,
                    expected="a regular file",
                )
            )
        os.set_blocking(handle, True)
    except BaseException:
        os.close(handle)
        raise
    return handle


def read_bytes(path: Path, *, name: str, limit: int, table: str | None = None) -> bytes:
    """The bytes of the regular file ``path`` (called ``name`` in findings), at most ``limit``.

    Opened non-blocking and checked with fstat on the open descriptor, so a FIFO,
    socket, device or folder is refused at once and a file swapped after a check
    cannot be read instead.
    """
    handle = _open_regular(path, name=name, table=table)
    try:
        size = os.fstat(handle).st_size
        if size > limit:
            raise Refused(_too_large(name, size, limit, table))
        # One read of the whole file (plus a byte, to see it grow): no chunks to join, one copy in memory.
        chunks, expected, size = [], size, 0
        while chunk := os.read(handle, min(max(expected - size, 1 << 20) + 1, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # grew while being read
                raise Refused(_too_large(name, size, limit, table))
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as error:
        raise _read_fault(error, name, table) from None
    finally:
        os.close(handle)


def regular_file_size(path: Path, *, name: str, table: str | None = None, what: str = "the file") -> int | Finding:
    """The size of the regular file ``path``, or the finding that says why it is not one."""
    try:
        info = os.stat(path)
    except OSError as error:
        if error.errno in _NOT_FOUND:
            return Finding("missing-file", f"{what} {name} does not exist", table=table, file=name)
        return _os_finding(error, name, table)
    if not stat.S_ISREG(info.st_mode):
        return Finding(
            "not-a-regular-file",
            f"{what} {name} is {_kind(info.st_mode)}, not a regular file",
            table=table,
            file=name,
            expected="a regular file",
        )
    return info.st_size


def package_bytes(
    root: Path, relpath: str, *, what: str, limit: int, table: str | None = None, listed_in: str = DESCRIPTOR
) -> bytes:
    """A file of the package by its relative path: contained, regular, at most ``limit`` bytes."""
    path = contained(root, relpath, what=what, file=listed_in)
    return read_bytes(path, name=relpath, limit=limit, table=table)


def decode(data: bytes, *, name: str, table: str | None = None) -> str:
    """Strict UTF-8; an undecodable byte is a finding naming the file, line and byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start : error.start + 1].hex()
        raise Refused(
            Finding(
                "encoding-error",
                f"{name} is not UTF-8: byte 0x{bad} at offset {error.start} (line {line})",
                table=table,
                file=name,
                line=line,
                value=f"0x{bad}",
                expected="UTF-8",
            )
        ) from None


def read_text(path: Path, *, name: str, limit: int, table: str | None = None) -> str:
    return decode(read_bytes(path, name=name, limit=limit, table=table), name=name, table=table)


def package_text(root: Path, relpath: str, *, what: str, limit: int, listed_in: str = DESCRIPTOR) -> str:
    return decode(package_bytes(root, relpath, what=what, limit=limit, listed_in=listed_in), name=relpath)


def input_bytes(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """A file the user names on the command line (not part of a package): regular, bounded."""
    return read_bytes(path, name=str(path), limit=limits.max_text_bytes)


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _too_large(name: str, size: int, limit: int, table: str | None) -> Finding:
    return Finding(
        "file-too-large",
        f"{name} is {size} bytes; the limit is {limit}",
        table=table,
        file=name,
        value=str(size),
        expected=f"<= {limit} bytes",
    )


def _os_finding(error: OSError, name: str, table: str | None) -> Finding:
    if error.errno in _NOT_FOUND:
        return Finding("missing-file", f"{name} does not exist", table=table, file=name)
    if error.errno == errno.ELOOP:
        return Finding("unsafe-path", f"{name} is a symlink loop", table=table, file=name)
    return Finding("unreadable-file", f"cannot read {name}: {error.strerror or error}", table=table, file=name)


def _read_fault(error: OSError, name: str, table: str | None) -> Exception:
    """What a failed open or read becomes: a finding for a missing file or a loop; else the fault itself.

    Permission denied or an I/O error is no property of the data: the OSError goes up
    to the command, which says it in one line naming the file (exit 2).
    """
    if error.errno in _NOT_FOUND or error.errno == errno.ELOOP:
        return Refused(_os_finding(error, name, table))
    return error


# --- JSON and YAML -------------------------------------------------------------------------


def load_json(path: Path, *, limits: Limits, file: str) -> tuple[object | None, list[Finding]]:
    """Parse JSON strictly: size and depth capped, duplicate keys reported, huge numbers refused."""
    code = "package-error" if file == DESCRIPTOR else "schema-error"
    try:
        raw = read_bytes(path, name=file, limit=limits.max_descriptor_bytes)
    except Refused as refused:
        finding = refused.finding
        if finding.code == "file-too-large":  # a descriptor or schema over its limit is unreadable as such
            finding = Finding(code, finding.message, file=file, value=finding.value, expected=finding.expected)
        return None, [finding]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [Finding(code, f"{file} is not UTF-8 (byte {error.start})", file=file)]
    return parse_json(text, limits=limits, file=file, code=code)


def parse_json(text: str, *, limits: Limits, file: str, code: str) -> tuple[object | None, list[Finding]]:
    duplicates: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        seen: dict = {}
        for key, value in pairs:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > 100:
            raise ValueError(f"a number of {len(digits)} digits")
        return int(digits)

    if nesting_depth(text) > limits.max_json_depth:
        return None, [
            Finding(
                code,
                f"{file} nests deeper than {limits.max_json_depth} levels",
                file=file,
                expected=f"at most {limits.max_json_depth} levels",
            )
        ]
    try:
        data = json.loads(text, object_pairs_hook=pairs_hook, parse_int=bounded_int)
    except json.JSONDecodeError as error:
        return None, [Finding(code, f"{file} is not valid JSON: {error.msg}", file=file, line=error.lineno)]
    except (ValueError, RecursionError) as error:
        return None, [Finding(code, f"{file} cannot be read: {error}", file=file)]
    findings = [
        Finding(
            "duplicate-json-key", f"{file} repeats the key {key!r}; only the last would count", file=file, value=key
        )
        for key in duplicates
    ]
    return data, findings


_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)  # to its closing quote, or the text's end
_BRACKET = re.compile(r"[\[\]{}]")
_STEPS = bytes.maketrans(b"[{]}", bytes([1, 1, 255, 255]))  # read as signed bytes: +1 and -1


def nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside strings, found without parsing (so no recursion).

    The strings are cut out and the brackets summed in regular expressions and C loops
    (possessive patterns: linear time), not a Python step a character, which took 0.8 ms a
    descriptor of 18,000 characters.
    """
    brackets = "".join(_BRACKET.findall(_JSON_STRING.sub("", text))).encode("ascii")
    return max(0, max(accumulate(array("b", brackets.translate(_STEPS))), default=0))


class UnsafeYaml(ValueError):
    pass


def load_yaml(text: str, *, max_chars: int = 1_000_000, limits: Limits = DEFAULT_LIMITS) -> Any:
    """YAML from an untrusted file: size, depth and node count capped, no anchors or aliases, safe tags only."""
    import yaml

    if len(text) > max_chars:
        raise UnsafeYaml(f"{len(text)} characters; the limit is {max_chars}")
    try:
        check_yaml_shape(text, limits=limits)
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UnsafeYaml(str(error).splitlines()[0]) from None
    except RecursionError:
        raise UnsafeYaml("nests too deeply") from None


def check_yaml_shape(text: str, *, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise UnsafeYaml for anchors or aliases, nesting deeper or values more than the limits.

    Reads the event stream, which is flat, so that nothing recursive (PyYAML's composer)
    ever sees a hostile shape. A syntax error is raised as yaml.YAMLError.
    """
    import yaml

    depth = nodes = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise UnsafeYaml("anchors and aliases are not allowed")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > limits.max_json_depth:
                raise UnsafeYaml(f"nests deeper than {limits.max_json_depth} levels")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > limits.max_yaml_nodes:
                raise UnsafeYaml(f"more than {limits.max_yaml_nodes} values")


# --- references that would be fetched -------------------------------------------------------

REFERENCE_KEYS = ("profile", "$schema", "$ref", "dialect")
"""Properties a Data Package reader may load; a URL in one is refused, never fetched."""
OFFICIAL_PROFILES = frozenset(
    f"https://datapackage.org/profiles/2.0/{name}.json"
    for name in ("datapackage", "dataresource", "tableschema", "tabledialect")
)
"""Data Package v2 names its version by these `$schema` URLs: identifiers of the standard, never fetched."""


def remote_references(data: object, *, file: str) -> list[Finding]:
    """A finding for each reference property (profile, $schema, $ref, dialect) whose value is a URL."""
    findings = []
    for where, key, value in _references(data, ""):
        if key == "$schema" and value in OFFICIAL_PROFILES:
            continue  # names the standard's version; engines never see it (without_remote_references)
        if isinstance(value, str) and is_url(value):
            findings.append(
                Finding(
                    "remote-reference",
                    f"{file}: {where}{key} is a URL ({value}); nothing is ever fetched",
                    file=file,
                    column=f"{where}{key}",
                    value=value,
                    expected="a profile name or no such property",
                )
            )
    return findings


def without_remote_references(data: Any) -> Any:
    """A copy of ``data`` with every URL-valued reference property removed, for engines that would fetch it."""
    if isinstance(data, dict):
        return {
            key: without_remote_references(value)
            for key, value in data.items()
            if not (key in REFERENCE_KEYS and isinstance(value, str) and is_url(value))
        }
    if isinstance(data, list):
        return [without_remote_references(item) for item in data]
    return data


def _references(data: object, where: str) -> Iterator[tuple[str, str, object]]:
    stack: list[tuple[object, str]] = [(data, where)]
    while stack:  # iterative: the depth was capped when parsing, but no recursion is needed at all
        item, at = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in REFERENCE_KEYS:
                    yield at, key, value
                stack.append((value, f"{at}{key}."))
        elif isinstance(item, list):
            stack.extend((value, f"{at}{number}.") for number, value in enumerate(item))


# --- no network --------------------------------------------------------------------------------


class NetworkRefused(PermissionError):
    """A connection was attempted while offline; the tool never fetches anything."""


_NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.sendto",
        "socket.sendmsg",
        "urllib.Request",
    }
)
_offline_depth = [0]
_hook_installed = [False]
_recorders: list[set[str]] = []  # paths opened while recording_opens() is active


def _audit(event: str, args: tuple) -> None:
    if _offline_depth[0] and event in _NETWORK_EVENTS:
        raise NetworkRefused(f"network access refused ({event}): the tool never fetches anything")
    if _recorders and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        for opened in _recorders:
            opened.add(path)


def _install_hook() -> None:
    if not _hook_installed[0]:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: this one is inert outside its contexts
        _hook_installed[0] = True


@contextmanager
def recording_opens() -> Iterator[set[str]]:
    """The set of every path this process opens inside the block (Python's audit events: the
    files a result depends on, whichever module opened them)."""
    _install_hook()
    opened: set[str] = set()
    _recorders.append(opened)
    try:
        yield opened
    finally:
        _recorders.remove(opened)


@contextmanager
def offline() -> Iterator[None]:
    """While inside, every connection, name look-up and URL request in this process is refused."""
    _install_hook()
    _offline_depth[0] += 1
    try:
        yield
    finally:
        _offline_depth[0] -= 1


def offline_only(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` always runs inside :func:`offline`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with offline():
            return function(*args, **kwargs)

    return wrapper
