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

        A layer's findings of one code at one cell with other messages are other problems (the
        uncovered passages of a source's body, all at its row's ``body``): each is kept."""
        index = {
            f.location + (f.message if f.line is None and f.column is None else "",): i
            for i, f in enumerate(self.findings)
        }
        for finding in findings:
            key = finding.location + (finding.message if finding.line is None and finding.column is None else "",)
            at = index.get(key)
            if at is not None and _same_problem(self.findings[at], finding):
                kept = self.findings[at]
                self.findings[at] = _replace_found_by(kept, tuple(dict.fromkeys(kept.found_by + finding.found_by)))
            else:
                index.setdefault(key, len(self.findings))
                self.findings.append(finding)

    def sort(self) -> None:
        self.findings.sort(key=_sort_key)


def _same_problem(kept: Finding, finding: Finding) -> bool:
    # another layer's finding at the cell is the same problem told in its words
    return kept.message == finding.message or not set(kept.found_by) & set(finding.found_by)


def _replace_found_by(finding: Finding, layers: tuple[str, ...]) -> Finding:
    data = asdict(finding)
    data["found_by"] = layers
    return Finding(**data)
