"""Commands of ``uslatam``. Each parses its arguments, calls the library, renders the result.

Exit codes: 0 valid / done, 1 invalid data, 2 usage error or unreadable input.
Heavy libraries are imported inside the commands, so ``uslatam --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer.core import TyperCommand

from ..export import FORMATS as EXPORTS
from .documents import DOCUMENTS

app = typer.Typer(
    name="uslatam",
    help="Validate and maintain the us-latam-security-facts data package.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _show_version(value: bool) -> None:
    if value:
        from ..boundary import DEFAULT_LIMITS, load_json
        from ..paths import own_package

        try:
            from importlib.metadata import version

            tool = version("us-latam-security-facts")
        except Exception:  # not installed (running from a clone without pip install)
            tool = "unknown"
        descriptor, _ = load_json(own_package() / "datapackage.json", limits=DEFAULT_LIMITS, file="datapackage.json")
        data = descriptor.get("version", "unknown") if isinstance(descriptor, dict) else "unknown"
        typer.echo(f"uslatam {tool} (data package {data})")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Validate and maintain the us-latam-security-facts data package."""


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class Engine(str, Enum):
    auto = "auto"
    both = "both"
    frictionless = "frictionless"
    pandera = "pandera"
    vectorised = "vectorised"


def _fail(message: str, debug: bool, error: BaseException | None = None) -> NoReturn:
    if debug and error is not None:
        raise error
    typer.echo(f"uslatam: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


class _Command(TyperCommand):
    """A command whose usage line leaves out hidden arguments (the 1.x positional package)."""

    def collect_usage_pieces(self, ctx):  # type: ignore[no-untyped-def]
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not getattr(param, "hidden", False):
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


OldPackagePath = Annotated[
    Path | None,
    typer.Argument(
        hidden=True,
        show_default=False,
        help="The package as a positional argument, as in 1.x: kept working; --package is the one documented way.",
    ),
]
ReadPackage = Annotated[
    Path | None,
    typer.Option(
        "--package",
        help="The package: a folder or its datapackage.json (default: the one here or above, else this version's "
        "data).",
        show_default=False,
    ),
]
WritePackage = Annotated[
    Path | None,
    typer.Option("--package", help="The package to change (default: the one here or above).", show_default=False),
]


def _one_package(old_path: Path | None, package: Path | None) -> Path | None:
    """The package named with --package or, as 1.x scripts do, by position; both naming different ones is a mistake."""
    if old_path is not None and package is not None and old_path.absolute() != package.absolute():
        typer.echo(
            f"uslatam: two packages named ({old_path} and --package {package}); name one with --package", err=True
        )
        raise typer.Exit(EXIT_USAGE)
    return package if package is not None else old_path


def _package_for_reading(package: Path | None, *, checked: bool = True) -> Path:
    """The package a reading command reads: the one named, else the one here or above, else this version's data.

    A named path that is no package is a usage error (``checked``); validate reports it as a finding instead."""
    from ..paths import default_package

    if package is not None and checked:
        _refuse_if_not_a_package(package)
    return package if package is not None else default_package()


def _refuse_if_not_a_package(package: Path) -> None:
    from ..package import not_a_package

    problem = not_a_package(package)
    if problem is not None:
        typer.echo(f"uslatam: --package {package}: {problem}", err=True)
        raise typer.Exit(EXIT_USAGE)


def _package_for_writing(package: Path | None, *, checked: bool = True) -> Path:
    """The package a writing command changes: the one named, else the one here or above (never the bundled data).

    A named path that is no package is a usage error (``checked``); recover looks for a journal in any folder."""
    from ..paths import package_here

    if package is not None:
        if checked:
            _refuse_if_not_a_package(package)
        return package
    found = package_here()
    if found is None:
        typer.echo(
            "uslatam: there is no datapackage.json in this folder or above it; "
            "run the command in the package's folder or name it with --package",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    return found


Debug = Annotated[bool, typer.Option("--debug", help="Show a traceback for unexpected errors.")]


FREED_MEMORY_KEPT_MS = 20  # 0 ms peaked 5-10% lower but took 8-16% more CPU (page faults): docs/performance.md


def _give_back_freed_memory() -> None:
    """Arrow's default allocator keeps freed memory for reuse; a one-shot validation of large
    tables, freed one after the other, peaks lower if it returns memory to the system soon. At once
    (0 ms) the next table faults every page in afresh; a few milliseconds keep what is reused at once."""
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(FREED_MEMORY_KEPT_MS)
    except (ImportError, NotImplementedError):  # no jemalloc in this pyarrow build: keep the default
        pass


class _StartUp:
    """The validation's progress callback, which ends the start-up when the first table is done.

    Until then a validation imports pandas, pyarrow and pandera: ~100,000 objects that live until
    exit, which the garbage collector would scan again and again and never free (with the end
    below, 0.83x the CPU of a validation of the real package: docs/performance.md). So the
    collector is off until the first table is done; then they are frozen out of later collections
    (not collected first: that full scan cost 0.1 s to free the imports' 1,600 objects in cycles),
    and every later table runs with the collector on. Arrow's allocator is
    chosen there too (``_give_back_freed_memory``), not before the run, which a report taken from
    the cache ends without importing pyarrow at all. On leaving, the collector is as it was found
    (in a test process, say).
    """

    def __init__(self, progress):
        self.progress = progress
        self.was_enabled = False
        self.may_freeze = False  # not where a caller froze objects of its own: unfreezing would undo that
        self.started = False

    def __enter__(self):
        import gc

        self.was_enabled = gc.isenabled()
        self.may_freeze = self.was_enabled and gc.get_freeze_count() == 0
        gc.disable()
        return self

    def __call__(self, done) -> None:
        if not self.started:
            import gc

            self.started = True
            _give_back_freed_memory()  # the tables after the first are the large part of a large package
            if self.may_freeze:
                # Reference counting still frees what the first table let go; only cycles made before
                # now stay (the imports', whatever the table's size).
                gc.freeze()
            if self.was_enabled:
                gc.enable()
        if self.progress is not None:
            self.progress(done)

    def __exit__(self, *_) -> None:
        import gc

        if self.started and self.may_freeze:
            gc.unfreeze()
        if self.was_enabled:
            gc.enable()


@app.command(cls=_Command)
def validate(
    path: OldPackagePath = None,
    package: ReadPackage = None,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.text,
    engine: Annotated[
        Engine,
        typer.Option(
            help="Table engines besides lint, structure and rules: auto (pandera, at every size), both "
            "(frictionless beside pandera: the cross-check CI runs on main), or one (vectorised: pyarrow kernels)."
        ),
    ] = Engine.auto,
    max_file_bytes: Annotated[int | None, typer.Option(help="Refuse data files larger than this.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code.")] = False,
    require_history: Annotated[
        bool,
        typer.Option(
            "--require-history",
            help="Fail when the last release is not in the git history (a shallow clone, a copy without git): "
            "for CI, where no released row may vanish unchecked.",
        ),
    ] = False,
    cache: Annotated[
        bool | None,
        typer.Option(
            "--cache/--no-cache",
            help="Reuse the report of a run with the same inputs from .uslatam/cache/, and keep this one there. "
            "Default: only at the top of a git work tree that tracks datapackage.json and nothing under "
            ".uslatam/ (where a forged cache cannot have arrived with the package).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="REV",
            help="Validate a change against the git revision REV (main, or a pull request's base): the tables git "
            "reports unchanged since REV are taken from .uslatam/tables/ (kept there by an earlier --since run, here "
            "or main's in CI) instead of being read again; everything else is checked, and the report is a full run's. "
            "Needs a git work tree; not with --no-cache. With nothing kept yet, every table is read (and kept). A run "
            "without --since keeps tables by their content's hash, which --since does not look up (it hashes nothing "
            "git vouches for).",
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Validate every layer of a data package and report all findings together.

    Exit status: 0 valid (warnings allowed), 1 invalid data, 2 a usage error or a package that cannot be read.
    """
    from ..package import DEFAULT_LIMITS, Limits
    from ..validate import CROSS_CHECK_ENGINES
    from ..validate import validate as run
    from ..validate.table_cache import SinceError
    from .render import ProgressLine, as_github, as_json, as_text, colour_enabled

    path = _package_for_reading(_one_package(path, package), checked=False)  # a missing package is a finding
    if since is not None and cache is False:
        _fail("--since takes unchanged tables from the cache: drop --no-cache", debug)
    limits = DEFAULT_LIMITS if max_file_bytes is None else Limits(max_file_bytes=max_file_bytes)
    engines = {Engine.auto: None, Engine.both: CROSS_CHECK_ENGINES}.get(engine, (engine.value,))
    progress = None if quiet else ProgressLine.on(sys.stderr)
    try:
        with _StartUp(progress) as after_each_table:
            report = run(
                path,
                limits=limits,
                engines=engines,
                progress=after_each_table,
                require_history=require_history,
                cache=cache,
                since=since,
            )
    except SinceError as error:
        _fail(f"--since {since}: {error}", debug, error)
    except Exception as error:  # an unexpected failure, not a finding: say so in one line
        _fail(f"validation could not run: {error}", debug, error)
    finally:
        if progress is not None:
            progress.close()
    if not quiet:
        if output_format is Format.json:
            typer.echo(as_json(report))
        elif output_format is Format.github:
            from ..package import find_root

            typer.echo(as_github(report, find_root(path)))
        else:
            typer.echo(as_text(report, colour=colour_enabled(sys.stdout)))
    if report.fatal:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)


@app.command()
def synth(
    target: Annotated[Path, typer.Argument(help="A new or empty folder to write the package to.")],
    rows: Annotated[int, typer.Option(help="Rows in every fact table, spans and retractions.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the places defects go to.")] = 0,
    defect: Annotated[
        list[str] | None,
        typer.Option(help="KIND=COUNT defects to inject (repeatable)."),
    ] = None,
    debug: Debug = False,
) -> None:
    """Write a synthetic package of ROWS rows a table, built from this one, with defects if asked.

    Defect kinds: type, enum, required, pattern, foreign-key, primary-key, stray-quote,
    extra-cell. Each injected defect is recorded, as the finding it must cause, in defects.json.
    """
    from ..synthetic import DEFECT_KINDS, generate

    defects: dict[str, int] = {}
    for item in defect or []:
        kind, _, count = item.partition("=")
        if kind not in DEFECT_KINDS or not count.isdigit():
            _fail(f"--defect {item!r}: expected KIND=COUNT with KIND one of {', '.join(DEFECT_KINDS)}", debug)
        defects[kind] = defects.get(kind, 0) + int(count)
    try:
        injected = generate(target, rows, seed=seed, defects=defects)
    except (ValueError, FileExistsError, OSError) as error:
        _fail(str(error), debug, error)
    typer.echo(f"wrote {target}: {rows:,} rows a table, {len(injected)} defect(s) (see defects.json)")


@app.command()
def locate(
    source_id: Annotated[str, typer.Argument(help="The source whose stored text holds the words.")],
    words: Annotated[str, typer.Argument(help="The exact words of the evidence.")],
    prefix: Annotated[str | None, typer.Option(help="Words ending right before them, to pick one occurrence.")] = None,
    occurrence: Annotated[int | None, typer.Option(help="Which occurrence (1-based), to pick one.")] = None,
    span_id: Annotated[str, typer.Option("--id", help="span_id to put in the printed row.")] = "SPAN-ID",
    package: ReadPackage = None,
    debug: Debug = False,
) -> None:
    """Print the spans.csv row for WORDS in a source's stored text (offsets, prefix, suffix)."""
    package = _package_for_reading(package)
    from ..boundary import Refused
    from ..csvio import dumps
    from ..loading import LoadError, source_text, table_spec
    from ..spans import SpanError
    from ..spans import locate as find

    try:
        text = source_text(source_id, package)
        header = table_spec("spans", package).field_names
    except (LoadError, Refused) as error:
        _fail(f"cannot read the stored text: {error}", debug, error)
    try:
        found = find(text, words, prefix=prefix, occurrence=occurrence)
    except SpanError as error:
        typer.echo(f"uslatam: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    values = {"span_id": span_id, "source_id": source_id, "start": found.start, "end": found.end}
    values.update(exact=found.exact, prefix=found.prefix, suffix=found.suffix)
    typer.echo(dumps(header, [[values.get(name, "") for name in header]]).split("\n", 1)[1], nl=False)


def _print_problems(problems, output_format: str) -> None:
    from ..report import Report
    from .render import as_json, as_text, colour_enabled

    report = Report(package="input (nothing was changed)", findings=list(problems))
    if output_format == "json":
        typer.echo(as_json(report), err=True)
    else:
        typer.echo(as_text(report, colour=colour_enabled(sys.stderr)), err=True)


def _print_plan(plan, dry_run: bool, output_format: str) -> None:
    import json

    summary = plan.summary()
    if output_format == "json":
        typer.echo(json.dumps({"dry_run": dry_run, **summary}, indent=2, ensure_ascii=False))
        return
    verb = "would add" if dry_run else "added"
    rows = ", ".join(f"{count} to {table}" for table, count in summary["rows"].items()) or "nothing"
    typer.echo(f"{verb}: {rows}")
    for span in summary["spans_created"]:
        typer.echo(f"  new span {span['span_id']} at {span['start']}..{span['end']}: {span['exact'][:70]!r}")
    for span_id in summary["spans_reused"]:
        typer.echo(f"  reused span {span_id}")
    for assumption in summary["assumed"]:
        typer.echo(f"  assumed {assumption}")
    if not dry_run:
        typer.echo("wrote: " + ", ".join(plan.written))


InputFormat = Annotated[
    str | None, typer.Option("--input-format", help="csv, json or yaml (default: from the file name; needed for -).")
]
LockTimeout = Annotated[float, typer.Option(help="Seconds to wait for another command's lock.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print what would be added; write nothing.")]
OutputFormat = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def _read_text(file: str, debug: bool) -> tuple[str, str]:
    from ..boundary import DEFAULT_LIMITS, Refused, decode, input_bytes

    if file == "-":
        return sys.stdin.read(DEFAULT_LIMITS.max_text_bytes), "<stdin>"
    try:
        return decode(input_bytes(Path(file)), name=file), file
    except Refused as refused:
        _fail(f"cannot read {refused}", debug, refused)
    raise AssertionError("unreachable")


@app.command()
def add(
    table_or_file: Annotated[
        str,
        typer.Argument(
            metavar="TABLE_OR_FILE", help="The table, then the input file; or only a file naming its tables."
        ),
    ],
    file: Annotated[
        str | None, typer.Argument(show_default=False, metavar="FILE", help="The input file, when TABLE comes first.")
    ] = None,
    package: WritePackage = None,
    input_format: InputFormat = None,
    dry_run: DryRun = False,
    lock_timeout: LockTimeout = 10.0,
    output_format: OutputFormat = "text",
    debug: Debug = False,
) -> None:
    """Add rows from a CSV, JSON or YAML file (or - for standard input), evidence given by its words.

    The whole package is validated with the new rows before anything is written; then
    every changed file is replaced as one atomic change. Invalid input changes nothing.
    """
    package = _package_for_writing(package)
    from ..rows import AddError, add_rows, read_input
    from ..transaction import TransactionError

    table, path = (table_or_file, file) if file is not None else (None, table_or_file)
    fmt = input_format or {".csv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(
        Path(path).suffix.lower()
    )
    if fmt is None:
        _fail(f"cannot tell the format of {path}; give --input-format csv|json|yaml", debug)
    text, name = _read_text(path, debug)
    try:
        rows = read_input(text, name=name, fmt=fmt, table=table)
        plan = add_rows(package, rows, dry_run=dry_run, lock_timeout=lock_timeout)
    except AddError as error:
        _print_problems(error.problems, output_format)
        raise typer.Exit(EXIT_INVALID) from None
    except TransactionError as error:
        _fail(str(error), debug, error)
    _print_plan(plan, dry_run, output_format)
    if not dry_run and output_format != "json":
        _say_stale_documents(package)


def _say_stale_documents(package: Path) -> None:
    """After a change of the data: name the generated documents it made stale (the README's row counts …)."""
    from ..docs import DocsError, package_file_text
    from ..package import find_root

    root = find_root(package)
    try:
        stale = [
            name
            for name, make in DOCUMENTS.items()
            if (root / name).is_file() and package_file_text(root, name) != make(root)
        ]
    except (DocsError, KeyError, ValueError):
        return  # a document that cannot be generated is uslatam docs's to report
    if stale:
        typer.echo(f"now stale: {', '.join(stale)}; regenerate with: uslatam docs")


_BASIS = (
    "Where {value} was read: text (the stored text), publisher_page or public_reposts "
    "(default: text for a title, publisher or author found in the text, else publisher_page; the output "
    "says what it assumed)."
)


@app.command("add-source")
def add_source(
    file: Annotated[Path, typer.Argument(help="The source text (UTF-8), stored byte-for-byte.")],
    source_id: Annotated[str | None, typer.Option("--id", help="The new source_id (a slug).")] = None,
    metadata: Annotated[
        Path | None, typer.Option(help="YAML or JSON file of the sources row's values (and authors:).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="The source's title, as published.")] = None,
    publisher: Annotated[str | None, typer.Option(help="Who published it.")] = None,
    url: Annotated[str | None, typer.Option(help="Where it is published.")] = None,
    published: Annotated[str | None, typer.Option(help="Publication date, YYYY-MM-DD.")] = None,
    language: Annotated[str | None, typer.Option(help="The text's language, an ISO 639-1 code.")] = None,
    reuse_terms: Annotated[
        str | None, typer.Option(help="The publisher's terms for reusing the text, as the text states them.")
    ] = None,
    author: Annotated[list[str] | None, typer.Option(help="An author, in byline order (repeat).")] = None,
    title_basis: Annotated[str | None, typer.Option(help=_BASIS.format(value="the title"))] = None,
    publisher_basis: Annotated[str | None, typer.Option(help=_BASIS.format(value="the publisher"))] = None,
    url_basis: Annotated[str | None, typer.Option(help=_BASIS.format(value="the URL"))] = None,
    published_basis: Annotated[str | None, typer.Option(help=_BASIS.format(value="the publication date"))] = None,
    authors_basis: Annotated[str | None, typer.Option(help=_BASIS.format(value="the authors' names"))] = None,
    body_start: Annotated[
        int | None, typer.Option(help="Code-point offset where the body begins (default 0: the whole text).")
    ] = None,
    body_end: Annotated[
        int | None, typer.Option(help="Code-point offset where the body ends (default: the end of the text).")
    ] = None,
    package: WritePackage = None,
    dry_run: DryRun = False,
    lock_timeout: LockTimeout = 10.0,
    output_format: OutputFormat = "text",
    debug: Debug = False,
) -> None:
    """Register a new source text: store it in sources/ and add its sources row (and authors)."""
    package = _package_for_writing(package)
    from ..boundary import Refused, UnsafeYaml, decode, input_bytes, load_yaml
    from ..rows import AddError
    from ..rows import add_source as register
    from ..transaction import TransactionError

    values: dict = {}
    if metadata is not None:
        try:
            loaded = load_yaml(decode(input_bytes(metadata), name=str(metadata)))
        except (Refused, UnsafeYaml) as error:
            _fail(f"cannot read the metadata {metadata}: {error}", debug, error)
        if not isinstance(loaded, dict):
            _fail(f"the metadata {metadata} must be a mapping of column to value", debug)
        values.update(loaded)
    options = {
        "source_id": source_id,
        "title": title,
        "publisher": publisher,
        "url": url,
        "published": published,
        "language": language,
        "reuse_terms": reuse_terms,
        "authors": author or None,
        "title_basis": title_basis,
        "publisher_basis": publisher_basis,
        "url_basis": url_basis,
        "published_basis": published_basis,
        "authors_basis": authors_basis,
        "body_start": body_start,
        "body_end": body_end,
    }
    values.update({k: v for k, v in options.items() if v is not None})
    if not file.exists() and not file.is_symlink():
        _fail(f"no such file: {file}", debug)  # anything else that is not a regular file is refused when read
    try:
        plan = register(package, file, values, source_name=str(file), dry_run=dry_run, lock_timeout=lock_timeout)
    except AddError as error:
        _print_problems(error.problems, output_format)
        raise typer.Exit(EXIT_INVALID) from None
    except TransactionError as error:
        _fail(str(error), debug, error)
    _print_plan(plan, dry_run, output_format)
    if not dry_run and output_format != "json":
        _say_stale_documents(package)


@app.command(cls=_Command)
def recover(
    path: OldPackagePath = None, package: WritePackage = None, lock_timeout: LockTimeout = 10.0, debug: Debug = False
) -> None:
    """Finish or undo a change that was interrupted (a crash or kill during a write)."""
    path = _package_for_writing(_one_package(path, package), checked=False)
    from ..package import find_root
    from ..transaction import PackageLock, TransactionError, UntrustedJournal
    from ..transaction import recover as run

    root = find_root(path)
    try:
        with PackageLock(root, lock_timeout):
            done = run(root)
    except UntrustedJournal as refused:
        _print_problems([refused.finding], "text")
        raise typer.Exit(EXIT_INVALID) from None
    except TransactionError as error:
        _fail(str(error), debug, error)
    typer.echo(done or "nothing to recover")


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@app.command("diff")
def diff_command(
    old: Annotated[str, typer.Argument(help="The old version: a folder or a git revision.")],
    new: Annotated[str, typer.Argument(help="The new version: a folder or a git revision.")] = ".",
    package: ReadPackage = None,
    output_format: Annotated[
        DiffFormat, typer.Option("--format", "-f", help="text for a terminal, markdown for a pull request, or json.")
    ] = DiffFormat.text,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when the versions differ.")] = False,
    debug: Debug = False,
) -> None:
    """Rows added, removed and changed (aligned by primary key), and schema changes, between two versions."""
    package = _package_for_reading(package)
    import json

    from ..diff import diff
    from ..history import VersionError
    from .render import diff_markdown, diff_text

    try:
        result = diff(old, new, root=package)
    except VersionError as error:
        _fail(str(error), debug, error)
    if output_format is DiffFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif output_format is DiffFormat.markdown:
        typer.echo(diff_markdown(result), nl=False)
    else:
        typer.echo(diff_text(result), nl=False)
    raise typer.Exit(EXIT_INVALID if exit_code and not result.empty else EXIT_VALID)


@app.command("coverage")
def coverage_command(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source IDs to check (default: every stored source).", show_default=False)
    ] = None,
    package: ReadPackage = None,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.text,
    debug: Debug = False,
) -> None:
    """List the sentences, quotations, numbers, dates and names of each source's body that no row cites.

    Exit 0 when every unit is cited or excluded, 1 when some are not, 2 when the package cannot be read.
    """
    package = _package_for_reading(package)
    import json

    from ..coverage import CoverageError, coverage
    from ..paths import default_package
    from .render import coverage_github, coverage_text

    try:
        result = coverage(package if package is not None else default_package(), tuple(sources or ()))
    except CoverageError as error:
        _fail(str(error), debug, error)
    if output_format is Format.json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif output_format is Format.github:
        typer.echo(coverage_github(result))
    else:
        typer.echo(coverage_text(result))
    raise typer.Exit(EXIT_VALID if result.complete else EXIT_INVALID)


class Level(str, Enum):
    major = "major"
    minor = "minor"
    patch = "patch"


@app.command("release")
def release_command(
    level: Annotated[
        Level | None, typer.Argument(help="major, minor or patch; default: the smallest the changes need.")
    ] = None,
    package: WritePackage = None,
    dry_run: DryRun = False,
    commit: Annotated[
        bool,
        typer.Option(
            "--commit/--no-commit",
            help="Commit the staged package files as 'Release X.Y.Z' and tag the commit vX.Y.Z (annotated); "
            "--no-commit only stages them and prints the commands.",
        ),
    ] = True,
    lock_timeout: LockTimeout = 10.0,
    debug: Debug = False,
) -> None:
    """Release a new version: descriptor, CITATION.cff, .zenodo.json, CHANGELOG and the generated documents."""
    package = _package_for_writing(package)
    from ..release import ReleaseError, release
    from ..transaction import TransactionError

    try:
        plan = release(
            package,
            level.value if level else None,
            dry_run=dry_run,
            lock_timeout=lock_timeout,
            documents=DOCUMENTS,
            commit=commit,
        )
    except ReleaseError as error:
        typer.echo(f"uslatam: release refused: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except TransactionError as error:
        _fail(str(error), debug, error)
    verb = "would release" if dry_run else "released"
    typer.echo(f"{verb} {plan.new_version} ({plan.level}; was {plan.old_version})")
    for line in plan.summary:
        typer.echo(f"  {line}")
    if dry_run:
        return
    for relpath in plan.regenerated:
        typer.echo(f"regenerated {relpath}")
    if plan.tagged:
        typer.echo(f"committed {plan.committed} and tagged it {plan.tagged}; push both: git push --follow-tags")
    elif plan.git_problem or not commit:
        typer.echo(f"commit and tag it:\n  {plan.commit_command} && {plan.tag_command}")
        if plan.git_refused:  # git is there and refused: the release is written, not recorded
            typer.echo(
                f"uslatam: the release is written but not committed or tagged: {plan.git_problem}; "
                "fix that, then run the commands above",
                err=True,
            )
            raise typer.Exit(EXIT_USAGE)
        if plan.git_problem:
            typer.echo(f"uslatam: {plan.git_problem}", err=True)


@app.command("archive")
def archive_command(
    destination: Annotated[Path, typer.Argument(help="Folder to write the artefacts into.")] = Path("dist"),
    package: ReadPackage = None,
    tag: Annotated[
        str | None, typer.Option(help="Publishing: refuse unless the tag is v<version> and the homepage is real.")
    ] = None,
    debug: Debug = False,
) -> None:
    """Build the release artefacts: the package as a byte-reproducible zip (SHA256SUMS inside) and its checksum."""
    package = _package_for_reading(package)
    from ..archive import ArchiveError, build_archive

    try:
        written = build_archive(package, destination, tag=tag)
    except ArchiveError as error:
        typer.echo(f"uslatam: archive refused: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except OSError as error:
        _fail(f"cannot write {destination}: {error}", debug, error)
    for file in written:
        typer.echo(f"wrote {file}")


@app.command()
def cite(
    output_format: Annotated[str, typer.Option("--format", "-f", help="bibtex, ris, csl-json, apa or cff.")] = "bibtex",
    version: Annotated[str | None, typer.Option(help="A released version (default: the current one).")] = None,
    package: ReadPackage = None,
    debug: Debug = False,
) -> None:
    """Print the citation of the data (this or a released version), then of every source it draws on."""
    package = _package_for_reading(package)
    from ..cite import CiteError, citation, render

    try:
        typer.echo(render(citation(package, version), output_format))
    except CiteError as error:
        _fail(str(error), debug, error)


# The export formats are those uslatam.export registers (a light import: its heavy libraries load on use).
ExportFormat = Enum("ExportFormat", {name: name for name in EXPORTS}, type=str)  # type: ignore[misc]
_INTO = {into: [f.name for f in EXPORTS.values() if f.into == into] for into in ("folder", "file")}


@app.command(
    "export",
    help="Export the package, typed from schemas/, as "
    + "; ".join(f"{f.name} ({f.summary})" for f in EXPORTS.values())
    + ".",
)
def export_command(
    destination: Annotated[
        Path,
        typer.Argument(help=f"Folder ({', '.join(_INTO['folder'])}) or file ({', '.join(_INTO['file'])}) to write."),
    ],
    output_format: Annotated[
        ExportFormat,  # type: ignore[valid-type]
        typer.Option("--format", "-f", help="The format to write."),
    ] = ExportFormat["sqlite"],  # type: ignore[misc]
    package: ReadPackage = None,
    debug: Debug = False,
) -> None:
    package = _package_for_reading(package)
    from ..export import ExportError, export
    from ..loading import LoadError

    try:
        written = export(output_format.value, destination, package)
    except (ExportError, LoadError) as error:
        typer.echo(f"uslatam: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except OSError as error:
        _fail(f"cannot write {destination}: {error}", debug, error)
    for file in written:
        typer.echo(f"wrote {file}")
    follow_up = EXPORTS[output_format.value].follow_up
    if follow_up:
        typer.echo(follow_up.format(*written))


@app.command()
def figures(
    destination: Annotated[Path, typer.Argument(help="Folder to write the figures into (SVG and PNG).")] = Path(
        "docs/figures"
    ),
    package: ReadPackage = None,
    debug: Debug = False,
) -> None:
    """Draw the timeline, the network of who met whom, the evidence map and the argument (needs the figures extra)."""
    package = _package_for_reading(package)
    from ..figures import draw_all
    from ..loading import LoadError

    try:
        written = draw_all(destination, package)
    except ModuleNotFoundError as error:  # matplotlib is imported only when a figure is drawn
        if error.name is None or not error.name.startswith(("matplotlib", "PIL")):
            raise
        _fail(f"figures need matplotlib: pip install 'us-latam-security-facts[figures]' ({error})", debug, error)
    except LoadError as error:
        typer.echo(f"uslatam: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    for file in written:
        typer.echo(f"wrote {file}")


@app.command(cls=_Command)
def rehash(
    path: OldPackagePath = None, package: WritePackage = None, lock_timeout: LockTimeout = 10.0, debug: Debug = False
) -> None:
    """Recompute every resource's bytes and sha256 hash in datapackage.json after a hand edit."""
    path = _package_for_writing(_one_package(path, package))
    from ..package import PackageError, refresh_integrity
    from ..transaction import TransactionError, UntrustedJournal

    try:
        changed = refresh_integrity(path, lock_timeout=lock_timeout)
    except UntrustedJournal as refused:
        _print_problems([refused.finding], "text")
        raise typer.Exit(EXIT_INVALID) from None
    except (PackageError, TransactionError) as error:
        _fail(str(error), debug, error)
    typer.echo(f"updated bytes and hash of: {', '.join(changed)}" if changed else "all hashes were current")


class CodesFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
def codes(
    output_format: Annotated[CodesFormat, typer.Option("--format", "-f", help="The listing's format.")] = (
        CodesFormat.text
    ),
) -> None:
    """List the catalogue of finding codes with their meaning and fix."""
    import dataclasses

    from ..codes import CATALOGUE
    from ..docs import codes_markdown

    if output_format is CodesFormat.markdown:
        typer.echo(codes_markdown(), nl=False)
        return
    if output_format is CodesFormat.json:
        typer.echo(json.dumps([dataclasses.asdict(code) for code in CATALOGUE.values()], indent=2, ensure_ascii=False))
        return
    for code in CATALOGUE.values():
        typer.echo(f"{code.code:32} {code.severity:8} {code.title}")


@app.command(
    cls=_Command, help=f"Regenerate the documents derived from the package and the code: {', '.join(DOCUMENTS)}."
)
def docs(
    path: OldPackagePath = None,
    package: WritePackage = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if a generated document is stale; write nothing.")
    ] = False,
) -> None:
    path = _package_for_writing(_one_package(path, package))
    from ..docs import DocsError, package_file_text
    from ..files import write_atomic
    from ..package import find_root

    root = find_root(path)
    try:
        targets = {relpath: make(root) for relpath, make in DOCUMENTS.items()}
        current = {name: package_file_text(root, name) for name in targets if (root / name).exists()}
    except (DocsError, KeyError, ValueError) as error:
        typer.echo(f"uslatam: cannot generate the documents: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    stale = [name for name, text in targets.items() if current.get(name) != text]
    if check:
        for name in stale:
            typer.echo(f"stale: {root / name}; regenerate with: uslatam docs", err=True)
        raise typer.Exit(EXIT_INVALID if stale else EXIT_VALID)
    for name in stale:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(root / name, targets[name].encode("utf-8"))
        typer.echo(f"wrote {root / name}")


def main() -> NoReturn:
    """Run a command offline; a fault of the file system or a refused input is one line naming the file, exit 2."""
    # pandera imports hypothesis, where installed (the test set-up), to synthesise data: no command
    # does, and the import is 0.05 s of a validation of the real package
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]  # None: "not installed"
    # numpy's OpenBLAS starts a thread a core when imported, and they spin waiting for work: no
    # command multiplies matrices, and the spinning was 0.1 s of CPU of a validation of the real
    # package. Set before numpy is imported (it reads the variable once); a user's own value stands.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        _run()
    except SystemExit as done:
        _exit_at_once(done.code)
    _exit_at_once(EXIT_VALID)


def _run() -> None:
    from ..boundary import Refused, offline
    from ..package import PackageError

    debug = "--debug" in sys.argv
    with offline():
        try:
            _as_invoked(app, sys.argv[1:])()
        except (Refused, PackageError) as refused:
            if debug:
                raise
            typer.echo(f"uslatam: {refused}", err=True)
            sys.exit(EXIT_USAGE)
        except OSError as error:
            if debug:
                raise
            typer.echo(f"uslatam: {fault_message(error)}", err=True)
            sys.exit(EXIT_USAGE)


def _as_invoked(group: typer.Typer, args: list[str]) -> typer.Typer:
    """``group`` with only the command ``args`` name, when they start with one: typer builds every
    registered command's parameters before it runs any (15 ms of each run, most of it the other
    sixteen commands'). Anything else (no command, an option first, a name no command has) gets
    the whole group, so help, --version and "No such command" are typer's own."""
    import copy

    from typer.main import get_command_name

    named = [
        command
        for command in group.registered_commands
        if args
        and command.callback is not None
        and (command.name or get_command_name(command.callback.__name__)) == args[0]
    ]
    if len(named) != 1 or group.registered_groups:
        return group
    narrowed = copy.copy(group)
    narrowed.registered_commands = named
    return narrowed


STDOUT_LOST = 120  # Python's own exit status when what was printed cannot be flushed at exit


def _exit_at_once(code) -> NoReturn:
    """End the process without tearing the interpreter down: a command has closed every file it wrote
    and joined its threads, and unwinding the ~1,000 modules of pandas, pyarrow and pandera frees
    nothing the system would not (with the collector above, 0.83x the CPU of a validation of the
    real package: docs/performance.md)."""
    import os

    if code is not None and not isinstance(code, int):  # sys.exit("message"): printed, exit 1, as Python does
        if sys.stderr is not None:
            print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):  # None where the process started without it (`>&-`)
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head) or a closed stream
            if stream is sys.stdout:
                code = code or STDOUT_LOST
    os._exit(code or 0)


def fault_message(error: OSError) -> str:
    """``<file>: <reason>`` for a fault such as a read-only folder, a full disk or a vanished file."""
    where = error.filename if error.filename is not None else "a file"
    if error.filename2 is not None:
        where = f"{where} -> {error.filename2}"
    return f"{where}: {error.strerror or error}; nothing was changed"


if __name__ == "__main__":
    main()
