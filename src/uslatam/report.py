"""Validation results as data: findings and the report that holds them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .codes import ERROR, lookup


@dataclass(frozen=True)
class Finding:
    """One problem: what (code), where (table, file, physical line, column), and how to fix it."""

    code: str
    message: str
    table: str | None = None
    file: str | None = None
    line: int | None = None
    column: str | None = None
    value: str | None = None
    expected: str | None = None
    found_by: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        return lookup(self.code).severity

    @property
    def hint(self) -> str:
        return lookup(self.code).hint

    @property
    def location(self) -> tuple[str, str | None, int | None, str | None]:
        return (self.code, self.table, self.line, self.column)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["found_by"] = list(self.found_by)
        data["severity"] = self.severity
        data["hint"] = self.hint
        return data


def _sort_key(finding: Finding) -> tuple:
    return (
        finding.file or "",
        finding.line if finding.line is not None else 0,
        finding.column or "",
        finding.code,
        finding.message,
    )


@dataclass
class Report:
    """Everything one validation found. ``valid`` is true when no finding is an error."""

    package: str
    findings: list[Finding] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    fatal: bool = False
    engines: tuple[str, ...] = ()  # the table engines that ran
    cached: bool = False  # given from the cache: a run with the same inputs made it
    reused: tuple[str, ...] = ()  # tables taken from the table cache, as a run that read them left them

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def valid(self) -> bool:
        return not self.fatal and not self.errors

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.code] = counts.get(finding.code, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict:
        return {
            "package": self.package,
            "valid": self.valid,
            "fatal": self.fatal,
            "tables": dict(self.tables),
            "engines": list(self.engines),
            "cached": self.cached,
            "reused": list(self.reused),
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def merge(self, findings: list[Finding]) -> None:
        """Add findings; one problem found by several layers is kept once, naming every layer.

        Findings of one code at one cell are one problem when their messages are the same or
        when their layers are others (each layer words it its own way); a layer's findings at
        one cell with other messages are other problems (the uncovered passages of a source's
        body, all at its row's ``body``; two constraints a cell breaks): each is kept, and
        another layer's finding there joins the one it repeats, else the first it can."""
        cells: dict[tuple, _Cell] = {}
        for i, f in enumerate(self.findings):
            cells.setdefault(_cell_key(f), _Cell()).add(i, f)
        for finding in findings:
            cell = cells.setdefault(_cell_key(finding), _Cell())
            same = cell.by_message.get(finding.message)
            if same is None:
                same = cell.first_of_other_layers(self.findings, finding.found_by)
            if same is None:
                cell.add(len(self.findings), finding)
                self.findings.append(finding)
            else:
                joined = self.findings[same].found_by + finding.found_by
                self.findings[same] = _replace_found_by(self.findings[same], tuple(dict.fromkeys(joined)))

    def sort(self) -> None:
        self.findings.sort(key=_sort_key)


class _Cell:
    """The findings kept at one cell, found in time linear in their number (a body can have
    thousands of uncovered passages)."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.by_message: dict[str, int] = {}
        # per set of layers, where to go on looking for a finding none of them made: a kept
        # finding's layers only grow, so one passed over never qualifies again
        self.looked_to: dict[frozenset[str], int] = {}

    def add(self, position: int, finding: Finding) -> None:
        self.positions.append(position)
        self.by_message.setdefault(finding.message, position)

    def first_of_other_layers(self, kept: list[Finding], layers: tuple[str, ...]) -> int | None:
        key = frozenset(layers)
        at = self.looked_to.get(key, 0)
        while at < len(self.positions) and key & set(kept[self.positions[at]].found_by):
            at += 1
        self.looked_to[key] = at
        return self.positions[at] if at < len(self.positions) else None


def _cell_key(finding: Finding) -> tuple:
    # a finding of no line and column (a file's, a package's) is told apart by its message
    located = finding.line is not None or finding.column is not None
    return finding.location + ("" if located else finding.message,)


def _replace_found_by(finding: Finding, layers: tuple[str, ...]) -> Finding:
    data = asdict(finding)
    data["found_by"] = layers
    return Finding(**data)
