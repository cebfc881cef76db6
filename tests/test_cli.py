"""The uslatam command: exit codes, output formats, and the helper commands."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from uslatam.validate import validate

from .conftest import FIXTURES, ROOT, uslatam


def test_help_lists_the_commands() -> None:
    result = uslatam("--help")
    assert result.returncode == 0
    for command in ("validate", "locate", "rehash", "codes"):
        assert command in result.stdout


def test_validate_exit_codes() -> None:
    assert uslatam("validate").returncode == 0
    assert uslatam("validate", str(FIXTURES / "foreign-key")).returncode == 1
    assert uslatam("validate", str(FIXTURES / "package-error")).returncode == 2
    assert uslatam("validate", "/nonexistent/package").returncode == 2
    assert uslatam("validate", "--format", "yaml").returncode == 2


def test_warnings_alone_leave_the_package_valid() -> None:
    result = uslatam("validate", str(FIXTURES / "missing-final-newline"))
    assert result.returncode == 0 and "missing-final-newline" in result.stdout


def test_text_report_names_file_line_column_value_and_fix() -> None:
    result = uslatam("validate", str(FIXTURES / "foreign-key"))
    ((code, table, line, column),) = json.loads((FIXTURES / "foreign-key" / "expected.json").read_text())["expected"]
    assert f"data/{table}.csv:{line} [{column}] {code}" in result.stdout
    assert "value:    'no-such-office'" in result.stdout
    assert "fix:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_command_is_built_alone_with_the_parameters_and_help_it_has_in_the_whole_group() -> None:
    from typer.main import get_command

    from uslatam.cli.app import _as_invoked, app

    whole = get_command(app)
    for name, command in whole.commands.items():
        alone = get_command(_as_invoked(app, [name, "--help"]))
        assert list(alone.commands) == [name]
        built = alone.commands[name]
        assert built.help == command.help
        assert [(p.name, p.opts, p.default, p.required) for p in built.params] == [
            (p.name, p.opts, p.default, p.required) for p in command.params
        ]
    for args in ([], ["--version"], ["--help"], ["valdate"]):  # typer's own answers need the whole group
        assert _as_invoked(app, args) is app
    result = uslatam("valdate")
    assert result.returncode == 2 and "No such command" in result.stderr + result.stdout


def test_json_output_equals_the_library_result() -> None:
    path = FIXTURES / "span-mismatch"
    result = uslatam("validate", "--format", "json", "--no-cache", str(path))
    assert json.loads(result.stdout) == validate(path, cache=False).to_dict()


def test_a_stray_quotation_mark_is_reported_in_json_with_the_words_around_it(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "clean", package)
    entities = package / "data" / "entities.csv"
    text = entities.read_text(encoding="utf-8")
    assert "country,Mexico," in text
    entities.write_text(text.replace("country,Mexico,", 'country,Mex"ico,'), encoding="utf-8")
    uslatam("rehash", str(package))
    result = uslatam("validate", "--format", "json", "--no-cache", str(package))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (stray,) = [f for f in json.loads(result.stdout)["findings"] if f["code"] == "csv-syntax-error"]
    line = text.splitlines()[stray["line"] - 1]
    assert "country,Mexico," in line  # the line the mark was put in
    assert '"' in stray["value"] and stray["value"] in line.replace("country,Mexico,", 'country,Mex"ico,')
    header = text.splitlines()[0].split(",")
    assert stray["column"] == header[line.split(",").index("Mexico")]  # the cell the mark is in


def test_github_annotations_escape_cells_so_none_can_forge_a_command(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "clean", package)
    entities = package / "data" / "entities.csv"
    forged = '"Mexico\n::error file=README.md,line=1::forged 100%"'
    entities.write_text(
        entities.read_text(encoding="utf-8").replace("country,Mexico,", f"country,{forged},"), encoding="utf-8"
    )
    uslatam("rehash", str(package))
    result = uslatam("validate", "--format", "github", str(package))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert not any("forged" in line and line.startswith("::error file=README.md") for line in lines)
    annotation = next(line for line in lines if "invisible-character" in line)
    assert annotation.startswith("::error file=data/entities.csv,line=")
    assert "100%25" in annotation


def test_github_annotations_cut_a_long_value_to_its_start_and_length(tmp_path: Path) -> None:
    from uslatam.cli.render import SHOWN_CHARACTERS, as_github
    from uslatam.report import Finding, Report

    long = "x" * 100_000
    report = Report(package=".", findings=[Finding("constraint-error", long, table="t", file="f.csv", value=long)])
    (annotation, _) = as_github(report, tmp_path).splitlines()
    assert annotation.startswith("::error file=f.csv,title=constraint-error::")
    assert len(annotation) < 3 * SHOWN_CHARACTERS + 500
    assert annotation.count("100,000 characters") == 1 and "100,002 characters" in annotation  # the value's repr


def test_github_escaping_of_data_and_properties() -> None:
    from uslatam.cli.render import _escape_data, _escape_property

    assert _escape_data("a\r\n::error::x 5%") == "a%0D%0A::error::x 5%25"
    assert _escape_property("data/a,b:c.csv") == "data/a%2Cb%3Ac.csv"


def test_github_annotations_are_capped_per_code(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "clean", package)
    vocabularies = package / "data" / "vocabularies.csv"
    with open(vocabularies, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    label = rows[0].index("label")
    for row in rows[1:]:
        row[label] += "\u200b"  # an invisible character in every code's label
    with open(vocabularies, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    uslatam("rehash", str(package))
    result = uslatam("validate", "--format", "github", str(package))
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 10
    assert any(line.startswith("::notice title=invisible-character::") for line in result.stdout.splitlines())
    assert result.stdout.count("invisible-character") >= 11


def test_locate_prints_the_spans_row() -> None:
    result = uslatam(
        "locate", "insightcrime-2017-05-19-mexico-colombia-meetings", "Heroin production is rising", "--id", "ic-heroin"
    )
    assert result.returncode == 0
    line = result.stdout
    assert line.startswith("ic-heroin,insightcrime-2017-05-19-mexico-colombia-meetings,")
    text = (ROOT / "sources" / "insightcrime-2017-05-19-mexico-colombia-meetings.txt").read_text(encoding="utf-8")
    start = text.index("Heroin production is rising")
    assert f",{start},{start + len('Heroin production is rising')}," in line


def test_locate_refuses_ambiguous_words_listing_occurrences() -> None:
    result = uslatam("locate", "insightcrime-2017-05-19-mexico-colombia-meetings", "On May 18")
    assert result.returncode == 1
    assert "occurs 2 times" in result.stderr and "#1" in result.stderr and "#2" in result.stderr


def test_locate_shows_the_closest_passage_when_words_are_missing() -> None:
    result = uslatam("locate", "insightcrime-2017-05-19-mexico-colombia-meetings", "Heroin production is falling")
    assert result.returncode == 1
    assert "closest passage" in result.stderr and "Heroin production is" in result.stderr


def test_rehash_after_a_hand_edit_makes_the_package_valid_again(package_copy: Path) -> None:
    path = package_copy / "data" / "positions.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("US Secretary of State", "U.S. Secretary of State"), encoding="utf-8"
    )
    assert uslatam("validate", str(package_copy)).returncode == 1
    result = uslatam("rehash", str(package_copy))
    assert result.returncode == 0 and "positions" in result.stdout
    assert uslatam("validate", str(package_copy)).returncode == 0


def test_every_command_argument_and_option_is_documented() -> None:
    from uslatam.cli.reference import commands, label, parameters

    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    group, listed = commands()
    assert {name for name, _ in listed} >= {"validate", "add", "release", "export", "docs"}
    for name, command in [("", group), *listed]:
        assert name == "" or (command.help or "").strip(), f"uslatam {name} has no help"
        section = reference.split(f"## `uslatam {name}`\n", 1)[1].split("\n## ", 1)[0] if name else reference
        for parameter in parameters(command):
            assert (parameter.help or "").strip(), f"uslatam {name} {label(parameter)} has no help"
            assert f"| {label(parameter)} |" in section, f"docs/cli.md lacks uslatam {name} {label(parameter)}"


def test_readme_example_report_is_what_validate_prints(package_copy: Path) -> None:
    spans = package_copy / "data" / "spans.csv"
    spans.write_text(
        spans.read_text(encoding="utf-8").replace(
            ",Heroin production is rising in Mexico,", ",Heroin production is rising in Mexic0,"
        ),
        encoding="utf-8",
    )
    assert uslatam("rehash", str(package_copy)).returncode == 0
    printed = uslatam("validate", cwd=package_copy).stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert printed.strip() in readme


def test_ci_runs_the_readme_set_up_commands_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    for command in commands:
        assert f"\n{command}\n" in readme, command


def test_synth_writes_a_package_that_validates_with_its_defects(tmp_path: Path) -> None:
    target = tmp_path / "synthetic"
    result = uslatam("synth", str(target), "--rows", "200", "--defect", "enum=3", "--defect", "foreign-key=2")
    assert result.returncode == 0, result.stderr
    injected = json.loads((target / "defects.json").read_text())
    assert len(injected) == 5
    report = json.loads(uslatam("validate", "--format", "json", "--engine", "vectorised", str(target)).stdout)
    found = {(f["code"], f["table"], f["line"], f["column"]) for f in report["findings"]}
    assert {(d["code"], d["table"], d["line"], d["column"]) for d in injected} <= found
    assert report["engines"] == ["vectorised"]
    refused = uslatam("synth", str(target), "--rows", "200")
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert uslatam("synth", str(tmp_path / "x"), "--defect", "nonsense=1").returncode == 2


def test_validate_engine_option() -> None:
    for engine, engines in (
        ("auto", ["pandera"]),
        ("both", ["frictionless", "pandera"]),
        ("vectorised", ["vectorised"]),
        ("frictionless", ["frictionless"]),
    ):
        result = uslatam("validate", "--format", "json", "--engine", engine)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["engines"] == engines


def test_progress_line_only_on_a_terminal() -> None:
    import io

    from uslatam.cli.render import ProgressLine
    from uslatam.validate import Progress

    assert ProgressLine.on(io.StringIO()) is None  # a pipe or file: no status line

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    line = ProgressLine.on(stream)
    line(Progress("spans", 1_000_000, 3, 13, 50, 100))
    line.close()
    shown = stream.getvalue()
    assert "[3/13] spans: 1,000,000 rows" in shown and "estimating the time left" in shown
    assert shown.endswith("\r\x1b[2K")  # the line is cleared before the report is printed


def test_the_first_estimate_of_time_left_ignores_the_set_up() -> None:
    """5 s of imports, then a small table, then half the bytes in 1 s: about 1 s left, not hundreds."""
    import io

    from uslatam.cli.render import ProgressLine
    from uslatam.validate import Progress

    times = iter([0.0, 5.0, 6.0])
    stream = io.StringIO()
    line = ProgressLine(stream, clock=lambda: next(times))
    line(Progress("sources", 2, 1, 17, 1_000, 100_000))
    line(Progress("spans", 400, 2, 17, 50_500, 100_000))
    shown = stream.getvalue().split("\r\x1b[2K")
    assert "estimating the time left" in shown[1] and "left" not in shown[1].replace("the time left", "")
    assert shown[2].endswith("about 1 s left"), shown[2]
    assert uslatam("validate").stderr == ""  # not a terminal under test: nothing on stderr


def test_every_command_finds_the_package_here_or_above(package_copy: Path, tmp_path: Path) -> None:
    """Run inside a package's subfolder, reading and writing commands act on that package, not the bundled one."""
    data = package_copy / "data"
    entities = data / "entities.csv"
    entities.write_text(entities.read_text(encoding="utf-8").replace(",Colombia,", ",Colombie,", 1), encoding="utf-8")
    found = uslatam("validate", cwd=data)
    assert found.returncode == 1 and "data/entities.csv" in found.stdout, found.stdout
    rehashed = uslatam("rehash", cwd=data)
    assert rehashed.returncode == 0, rehashed.stderr
    cited = uslatam("cite", "--format", "cff", cwd=data)
    assert (
        cited.returncode == 0
        and cited.stdout.strip() == (package_copy / "CITATION.cff").read_text(encoding="utf-8").strip()
    )


def test_outside_any_package_reading_commands_read_this_versions_data_and_writing_ones_refuse(
    tmp_path: Path,
) -> None:
    cited = uslatam("cite", "--format", "cff", cwd=tmp_path)
    assert cited.returncode == 0 and cited.stdout.strip() == (ROOT / "CITATION.cff").read_text(encoding="utf-8").strip()
    for command in (["add", "facts.yaml"], ["rehash"], ["recover"], ["release", "--dry-run"], ["docs"]):
        refused = uslatam(*command, cwd=tmp_path)
        assert refused.returncode == 2, (command, refused.stdout, refused.stderr)
        assert "no datapackage.json in this folder or above" in refused.stderr and "Traceback" not in refused.stderr
    assert list(tmp_path.iterdir()) == []  # nothing made here: no .uslatam/lock


def test_a_package_named_that_is_no_package_is_told_apart_from_a_missing_descriptor(tmp_path: Path) -> None:
    """A folder that does not exist, a CSV file named instead of its package, a folder without a
    descriptor: each said as it is, with the usage exit code and no traceback."""
    (tmp_path / "empty").mkdir()
    table = ROOT / "data" / "quotes.csv"
    cases = {
        tmp_path / "absent": "does not exist",
        table: "is a file, not a data package",
        tmp_path / "empty": "no datapackage.json in",
    }
    for named, said in cases.items():
        for command in (["cite"], ["export", str(tmp_path / "out")], ["coverage"], ["rehash"]):
            refused = uslatam(*command, "--package", str(named), cwd=tmp_path)
            assert refused.returncode == 2, (command, named, refused.stdout, refused.stderr)
            assert said in refused.stderr and "Traceback" not in refused.stderr, (command, refused.stderr)
        report = json.loads(uslatam("validate", "--format", "json", "--package", str(named), cwd=tmp_path).stdout)
        assert [(f["code"], said in f["message"]) for f in report["findings"]] == [("missing-file", True)]
    assert not (tmp_path / "out").exists()


def test_every_command_names_its_package_one_way() -> None:
    """--package, with the same help, on every command that reads or changes a package; no visible positional."""
    from uslatam.cli.reference import commands, is_argument, parameters

    _, listed = commands()
    without_package = {"synth", "codes"}  # synth builds from this version's data into a new folder; codes reads none
    for name, command in listed:
        shown = parameters(command)
        assert not any(is_argument(p) and (p.help or "").startswith("The package") for p in shown), name
        named = [p for p in shown if "--package" in p.opts]
        assert (name in without_package) == (not named), f"uslatam {name}: --package missing or unexpected"
        if named:
            assert "default: the one here or above" in named[0].help, name


def test_the_package_by_position_still_works_but_not_two_at_once(package_copy: Path) -> None:
    broken = FIXTURES / "foreign-key"
    assert uslatam("validate", "--package", str(broken)).returncode == 1
    assert uslatam("validate", str(broken)).returncode == 1  # as 1.x scripts call it
    both = uslatam("validate", str(broken), "--package", str(package_copy))
    assert both.returncode == 2 and "name one with --package" in both.stderr and "Traceback" not in both.stderr
    assert uslatam("rehash", "--package", str(package_copy)).returncode == 0
    assert uslatam("docs", "--check", "--package", str(ROOT)).returncode == 0


def test_the_library_validates_the_package_the_command_would(package_copy: Path) -> None:
    import os

    entities = package_copy / "data" / "entities.csv"
    entities.write_text(entities.read_text(encoding="utf-8").replace(",Colombia,", ",Colombie,", 1), encoding="utf-8")
    here = os.getcwd()
    os.chdir(package_copy / "data")
    try:
        report = validate()
    finally:
        os.chdir(here)
    command = json.loads(uslatam("validate", "--format", "json", cwd=package_copy / "data").stdout)
    assert not report.valid and Path(report.package).resolve() == package_copy.resolve()
    assert sorted(f.code for f in report.findings) == sorted(f["code"] for f in command["findings"])


def test_codes_as_json_is_the_catalogue_and_h_is_help() -> None:
    from uslatam.codes import CATALOGUE

    listed = json.loads(uslatam("codes", "--format", "json").stdout)
    assert [entry["code"] for entry in listed] == list(CATALOGUE)
    assert all(entry["hint"] and entry["severity"] in ("error", "warning") for entry in listed)
    assert uslatam("codes", "--format", "yaml").returncode == 2
    assert uslatam("add", "-h").stdout == uslatam("add", "--help").stdout


def test_figures_without_matplotlib_is_a_message(tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "matplotlib").mkdir()
    (blocker / "matplotlib" / "__init__.py").write_text("raise ModuleNotFoundError(name='matplotlib')\n")
    result = uslatam("figures", str(tmp_path / "out"), env={"PYTHONPATH": str(blocker)})
    assert result.returncode == 2 and "figures need matplotlib" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_huge_value_is_one_short_line_on_a_terminal_and_whole_in_json() -> None:
    from uslatam.cli.render import SHOWN_CHARACTERS, as_json, as_text
    from uslatam.report import Finding, Report

    cell = "a" * 90_000 + "!"
    report = Report(package=".")
    report.merge([Finding("constraint-error", f"{cell!r} breaks the constraint pattern", table="t", value=cell)])
    lines = as_text(report, colour=False).splitlines()
    assert max(len(line) for line in lines) < SHOWN_CHARACTERS + 100
    cut = [line for line in lines if "characters; --format json shows all)" in line]
    assert len(cut) == 2 and "(90,003 characters" in cut[1]  # the message and the value (its repr), each cut once
    assert json.loads(as_json(report))["findings"][0]["value"] == cell


def _buffered() -> dict[str, str]:
    """This environment without PYTHONUNBUFFERED (set on some machines): output waits in Python's buffer."""
    import os

    return {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def test_what_waits_in_the_buffer_is_printed_before_the_process_ends() -> None:
    # the command ends without tearing the interpreter down: what it printed must be flushed first
    import subprocess
    import sys

    end = "import sys; from uslatam.cli.app import _exit_at_once; sys.stdout.write('x' * 100_000); "
    result = subprocess.run([sys.executable, "-c", end + "_exit_at_once(0)"], capture_output=True, env=_buffered())
    assert (result.returncode, len(result.stdout), result.stderr) == (0, 100_000, b"")
    result = subprocess.run(
        [sys.executable, "-c", end + "_exit_at_once('stopped')"], capture_output=True, env=_buffered()
    )
    assert (result.returncode, len(result.stdout), result.stderr) == (1, 100_000, b"stopped\n")  # as Python does


def test_a_reader_that_stops_early_gets_an_exit_status_and_no_traceback() -> None:
    import subprocess
    import sys

    def closed_early(*command: str) -> tuple[int, str]:
        with subprocess.Popen(
            command, cwd=ROOT, env=_buffered(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as process:
            process.stdout.close()  # like `| head -0`: nothing will read what is printed
            stderr = process.stderr.read().decode()
            return process.wait(), stderr

    # a command's echo finds the pipe closed: click's status 1
    status, stderr = closed_early(sys.executable, "-m", "uslatam.cli.app", "validate", "--format", "json")
    assert status == 1 and stderr == ""
    # what is still buffered when the process ends: Python's status 120, without its "Exception ignored"
    status, stderr = closed_early(
        sys.executable,
        "-c",
        "import sys; from uslatam.cli.app import _exit_at_once; sys.stdout.write('x'); _exit_at_once(0)",
    )
    assert status == 120 and stderr == ""


def test_a_command_started_without_stdout_or_stderr_still_ends_with_its_status() -> None:
    import subprocess
    import sys

    for closed in (">&-", "2>&-"):
        for command, status in (
            ("codes", 0),
            (f"validate --quiet {FIXTURES / 'foreign-key'}", 1),
            (f"validate {FIXTURES / 'foreign-key'}", 1),  # the text report asks whether its stream is a terminal
            ("validate --no-cache", 0),
        ):
            result = subprocess.run(
                ["sh", "-c", f"exec {sys.executable} -m uslatam.cli.app {command} {closed}"],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            assert result.returncode == status, (closed, command, result.stderr)
            assert "Traceback" not in result.stdout + result.stderr


_PROBE = """
import gc, os, sys
import uslatam.validate
from uslatam.cli.app import main
run, seen, end = uslatam.validate.validate, [], os._exit
def probed(*args, progress, **options):
    def probe(done):
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        progress(done)
    return run(*args, progress=probe, **options)
def report(code):
    from threadpoolctl import threadpool_info
    loaded = sorted(n for n, m in sys.modules.items() if n.split('.')[0] == 'hypothesis' and m is not None)
    blas = sorted({pool['num_threads'] for pool in threadpool_info() if pool['internal_api'] == 'openblas'})
    setting = os.environ.get('OPENBLAS_NUM_THREADS')
    pandera_ran = 'pandera.backends.pandas.builtin_checks' in sys.modules
    print(repr((seen[:2], loaded, pandera_ran, blas, setting)), file=sys.stderr)
    end(code)
uslatam.validate.validate, os._exit = probed, report
sys.argv = ['uslatam', 'validate', '--no-cache']
main()
"""


def test_validate_runs_its_first_table_with_the_collector_off_and_the_rest_with_it_on_and_start_up_frozen() -> None:
    import ast
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT)
    first_two, *_ = ast.literal_eval(result.stderr.splitlines()[-1])
    assert result.returncode == 0
    assert first_two == [(False, False), (True, True)]  # off at the first table's end, then on, start-up frozen


def test_validate_does_not_import_hypothesis_which_pandera_would_for_data_synthesis() -> None:
    import ast
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT)
    _, hypothesis_modules, pandera_ran, *_ = ast.literal_eval(result.stderr.splitlines()[-1])
    assert result.returncode == 0 and pandera_ran and hypothesis_modules == []


@pytest.mark.parametrize("setting", [None, "2"])
def test_validate_runs_numpys_blas_on_one_thread_unless_told_otherwise(setting: str | None) -> None:
    """OpenBLAS starts a spinning thread a core when numpy is imported; no command uses it."""
    import ast
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if setting is not None:
        env["OPENBLAS_NUM_THREADS"] = setting
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT, env=env)
    *_, blas_threads, seen_setting = ast.literal_eval(result.stderr.splitlines()[-1])
    assert result.returncode == 0
    if not blas_threads or (os.cpu_count() or 1) < 2:
        pytest.skip("numpy's BLAS here is not OpenBLAS, or one core leaves it one thread whatever is set")
    if setting is None:
        assert blas_threads == [1]
    else:
        assert seen_setting == setting and blas_threads == [2]  # a user's own value stands


def test_the_collector_is_off_until_the_first_table_then_on_and_left_as_found() -> None:
    import gc

    from uslatam.cli.app import _StartUp

    seen = []
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with _StartUp(seen.append) as after_each_table:
        assert not gc.isenabled()
        after_each_table("first")
        assert gc.isenabled() and gc.get_freeze_count() > 0  # start-up's objects left out of collections
        after_each_table("second")
    assert seen == ["first", "second"]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with _StartUp(None):  # no table at all (an answer from the cache): on again at the end
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.freeze()  # a caller's own frozen objects stay frozen
    try:
        frozen = gc.get_freeze_count()
        with _StartUp(None) as after_each_table:
            after_each_table("first")
            assert gc.isenabled() and 0 < gc.get_freeze_count() <= frozen  # none added (objects may die)
        assert 0 < gc.get_freeze_count() <= frozen  # none unfrozen
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        with _StartUp(None) as after_each_table:
            after_each_table("first")
            assert not gc.isenabled() and gc.get_freeze_count() == 0  # a caller's choice to keep it off stands
        assert not gc.isenabled()
    finally:
        gc.enable()


_LOADED_AT_THE_END = """
import os, sys
from uslatam.cli.app import main
end = os._exit
def report(code):
    print(sorted({name.split('.')[0] for name, module in sys.modules.items() if module is not None}), file=sys.stderr)
    end(code)
os._exit = report
sys.argv = ['uslatam', 'validate']
main()
"""


def test_a_report_taken_from_the_cache_imports_no_engine(package_copy: Path) -> None:
    import ast
    import subprocess
    import sys

    loaded = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c", _LOADED_AT_THE_END], capture_output=True, text=True, cwd=package_copy
        )
        assert result.returncode == 0, result.stderr
        loaded.append(set(ast.literal_eval(result.stderr.splitlines()[-1])))
    engines = {"pandas", "pyarrow", "pandera", "numpy"}
    assert engines <= loaded[0]  # the first run read the tables
    assert not engines & loaded[1]  # the second took its report from .uslatam/cache/


def test_every_command_a_fix_hint_names_exists_with_the_options_it_names() -> None:
    """A hint that tells a maintainer to run a command the tool does not have is a dead end."""
    import re

    from typer.main import get_command

    from uslatam.cli.app import app
    from uslatam.codes import CATALOGUE

    commands = get_command(app).commands
    named = 0
    mention = re.compile(r"(?<![./\w])uslatam ([a-z][a-z-]*)((?: (?:--[a-z][a-z-]*|<[^>]*>|[A-Z_]+))*)")
    for code in CATALOGUE.values():
        for command, rest in mention.findall(code.hint):
            named += 1
            assert command in commands, f"{code.code}: no command {command!r}"
            options = {opt for param in commands[command].params for opt in param.opts + param.secondary_opts}
            for option in re.findall(r"--[a-z][a-z-]*", rest):
                assert option in options, f"{code.code}: uslatam {command} has no option {option}"
    assert named >= 5  # the hints do name commands: the pattern finds them
