"""The report: how findings of several layers at one cell are kept (``Report.merge``)."""

from __future__ import annotations

from uslatam.report import Finding, Report


def _at_cell(message: str, layer: str, line: int | None = 3, column: str | None = "name") -> Finding:
    return Finding("constraint-error", message, table="t", line=line, column=column, found_by=(layer,))


def _kept(report: Report) -> list[tuple[str, tuple[str, ...]]]:
    return [(f.message, f.found_by) for f in report.findings]


def test_one_problem_found_by_two_layers_is_kept_once_naming_both() -> None:
    report = Report(package=".")
    report.merge([_at_cell("too long", "pandera")])
    report.merge([_at_cell("more than 20 characters", "frictionless")])
    assert _kept(report) == [("too long", ("pandera", "frictionless"))]


def test_two_problems_of_one_cell_found_by_two_layers_are_two_findings_each_naming_both() -> None:
    report = Report(package=".")
    report.merge([_at_cell("too small", "pandera"), _at_cell("bad pattern", "pandera")])
    report.merge([_at_cell("below the minimum", "frictionless"), _at_cell("no match", "frictionless")])
    assert _kept(report) == [
        ("too small", ("pandera", "frictionless")),
        ("bad pattern", ("pandera", "frictionless")),
    ]


def test_another_layer_joins_the_finding_it_repeats_word_for_word() -> None:
    report = Report(package=".")
    report.merge([_at_cell("first", "rules"), _at_cell("second", "rules")])
    report.merge([_at_cell("second", "lint"), _at_cell("first", "lint")])
    assert _kept(report) == [("first", ("rules", "lint")), ("second", ("rules", "lint"))]


def test_one_layer_repeating_itself_is_one_finding_and_its_other_messages_are_kept() -> None:
    report = Report(package=".")
    passages = [_at_cell(f"passage {i} is cited by no row", "rules", column="body") for i in range(3000)]
    report.merge(passages + passages[:10])
    report.merge([_at_cell("uncited", "lint", column="body")])
    assert len(report.findings) == 3000
    assert report.findings[0].found_by == ("rules", "lint")
    assert all(f.found_by == ("rules",) for f in report.findings[1:])


def test_findings_of_no_cell_are_told_apart_by_their_message() -> None:
    report = Report(package=".")
    report.merge([_at_cell("the file is missing", "structure", line=None, column=None)])
    report.merge([_at_cell("the table is empty", "lint", line=None, column=None)])
    report.merge([_at_cell("the file is missing", "lint", line=None, column=None)])
    assert _kept(report) == [("the file is missing", ("structure", "lint")), ("the table is empty", ("lint",))]
