"""Commands of ``uslatam``. Each parses its arguments, calls the library, renders the result.

Exit codes: 0 valid / done, 1 invalid data, 2 usage error or unreadable input.
Heavy libraries are imported inside the commands, so ``uslatam --help`` stays fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="uslatam",
    help="Validate and maintain the us-latam-security-facts data package.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _show_version(value: bool) -> None:
    if value:
        import json

        from ..paths import own_package

        try:
            from importlib.metadata import version

            tool = version("us-latam-security-facts")
        except Exception:  # not installed (running from a clone without pip install)
            tool = "unknown"
        data = json.loads((own_package() / "datapackage.json").read_text(encoding="utf-8"))["version"]
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


def _fail(message: str, debug: bool, error: BaseException | None = None) -> None:
    if debug and error is not None:
        raise error
    typer.echo(f"uslatam: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


PackagePath = Annotated[
    Path,
    typer.Argument(help="The package: a folder or its datapackage.json.", show_default=True),
]
Debug = Annotated[bool, typer.Option("--debug", help="Show a traceback for unexpected errors.")]


def _give_back_freed_memory() -> None:
    """Arrow's default allocator keeps freed memory for reuse; a one-shot validation of large
    tables, freed one after the other, peaks lower if it returns memory to the system at once."""
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except (ImportError, NotImplementedError):  # no jemalloc in this pyarrow build: keep the default
        pass


@app.command()
def validate(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The package: a folder or its datapackage.json (default: the one here, else this version's data).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.text,
    engine: Annotated[
        Engine,
        typer.Option(
            help="Table engines besides lint, structure and rules: auto (frictionless and pandera for a small "
            "package, vectorised for a large one), both (frictionless and pandera), or one."
        ),
    ] = Engine.auto,
    max_file_bytes: Annotated[int | None, typer.Option(help="Refuse data files larger than this.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code.")] = False,
    debug: Debug = False,
) -> None:
    """Validate every layer of a data package and report all findings together."""
    from ..package import DEFAULT_LIMITS, Limits
    from ..paths import default_package
    from ..validate import SMALL_ENGINES
    from ..validate import validate as run
    from .render import ProgressLine, as_github, as_json, as_text, colour_enabled

    path = path if path is not None else default_package()
    limits = DEFAULT_LIMITS if max_file_bytes is None else Limits(max_file_bytes=max_file_bytes)
    engines = {Engine.auto: None, Engine.both: SMALL_ENGINES}.get(engine, (engine.value,))
    progress = None if quiet else ProgressLine.on(sys.stderr)
    _give_back_freed_memory()
    try:
        report = run(path, limits=limits, engines=engines, progress=progress)
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
    package: Annotated[Path, typer.Option(help="The package folder.")] = Path("."),
    debug: Debug = False,
) -> None:
    """Print the spans.csv row for WORDS in a source's stored text (offsets, prefix, suffix)."""
    from ..csvio import dumps
    from ..package import find_root
    from ..spans import SpanError
    from ..spans import locate as find

    text_file = find_root(package) / "sources" / f"{source_id}.txt"
    try:
        text = text_file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read the stored text {text_file}: {error}", debug, error)
    try:
        found = find(text, words, prefix=prefix, occurrence=occurrence)
    except SpanError as error:
        typer.echo(f"uslatam: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    header = ["span_id", "source_id", "start", "end", "exact", "prefix", "suffix"]
    row = [span_id, source_id, found.start, found.end, found.exact, found.prefix, found.suffix]
    typer.echo(dumps(header, [row]).split("\n", 1)[1], nl=False)


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
    if not dry_run:
        typer.echo("wrote: " + ", ".join(plan.written))


InputFormat = Annotated[
    str | None, typer.Option("--input-format", help="csv, json or yaml (default: from the file name; needed for -).")
]
LockTimeout = Annotated[float, typer.Option(help="Seconds to wait for another command's lock.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print what would be added; write nothing.")]
OutputFormat = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def _read_text(file: str, debug: bool) -> tuple[str, str]:
    if file == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(file).read_bytes().decode("utf-8"), file
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read {file}: {error}", debug, error)
    raise AssertionError("unreachable")


@app.command()
def add(
    table_or_file: Annotated[
        str,
        typer.Argument(
            metavar="[TABLE] FILE", help="The table, then the input file; or only a file naming its tables."
        ),
    ],
    file: Annotated[str | None, typer.Argument(show_default=False, metavar="")] = None,
    package: Annotated[Path, typer.Option(help="The package folder.")] = Path("."),
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


@app.command("add-source")
def add_source(
    file: Annotated[Path, typer.Argument(help="The source text (UTF-8), stored byte-for-byte.")],
    source_id: Annotated[str | None, typer.Option("--id", help="The new source_id (a slug).")] = None,
    metadata: Annotated[
        Path | None, typer.Option(help="YAML or JSON file of the sources row's values (and authors:).")
    ] = None,
    title: Annotated[str | None, typer.Option()] = None,
    publisher: Annotated[str | None, typer.Option()] = None,
    url: Annotated[str | None, typer.Option()] = None,
    published: Annotated[str | None, typer.Option(help="Publication date, YYYY-MM-DD.")] = None,
    language: Annotated[str | None, typer.Option()] = None,
    reuse_terms: Annotated[str | None, typer.Option()] = None,
    author: Annotated[list[str] | None, typer.Option(help="An author, in byline order (repeat).")] = None,
    package: Annotated[Path, typer.Option(help="The package folder.")] = Path("."),
    dry_run: DryRun = False,
    lock_timeout: LockTimeout = 10.0,
    output_format: OutputFormat = "text",
    debug: Debug = False,
) -> None:
    """Register a new source text: store it in sources/ and add its sources row (and authors)."""
    import yaml

    from ..rows import AddError
    from ..rows import add_source as register
    from ..transaction import TransactionError

    values: dict = {}
    if metadata is not None:
        try:
            loaded = yaml.safe_load(metadata.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
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
    }
    values.update({k: v for k, v in options.items() if v is not None})
    if not file.is_file():
        _fail(f"no such file: {file}", debug)
    try:
        plan = register(package, file, values, source_name=str(file), dry_run=dry_run, lock_timeout=lock_timeout)
    except AddError as error:
        _print_problems(error.problems, output_format)
        raise typer.Exit(EXIT_INVALID) from None
    except TransactionError as error:
        _fail(str(error), debug, error)
    _print_plan(plan, dry_run, output_format)


@app.command()
def recover(path: PackagePath = Path("."), lock_timeout: LockTimeout = 10.0, debug: Debug = False) -> None:
    """Finish or undo a change that was interrupted (a crash or kill during a write)."""
    from ..package import find_root
    from ..transaction import PackageLock, TransactionError
    from ..transaction import recover as run

    root = find_root(path)
    try:
        with PackageLock(root, lock_timeout):
            done = run(root)
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
    package: Annotated[Path, typer.Option(help="The package folder (for git revisions).")] = Path("."),
    output_format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.text,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when the versions differ.")] = False,
    debug: Debug = False,
) -> None:
    """Rows added, removed and changed (aligned by primary key), and schema changes, between two versions."""
    import json

    from ..diff import VersionError, diff
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


class Level(str, Enum):
    major = "major"
    minor = "minor"
    patch = "patch"


@app.command("release")
def release_command(
    level: Annotated[
        Level | None, typer.Argument(help="major, minor or patch; default: the smallest the changes need.")
    ] = None,
    package: Annotated[Path, typer.Option(help="The package folder.")] = Path("."),
    dry_run: DryRun = False,
    lock_timeout: LockTimeout = 10.0,
    debug: Debug = False,
) -> None:
    """Release a new version: descriptor, CITATION.cff, .zenodo.json and CHANGELOG in one atomic change."""
    from ..release import ReleaseError, release
    from ..transaction import TransactionError

    try:
        plan = release(package, level.value if level else None, dry_run=dry_run, lock_timeout=lock_timeout)
    except ReleaseError as error:
        typer.echo(f"uslatam: release refused: {error}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except TransactionError as error:
        _fail(str(error), debug, error)
    verb = "would release" if dry_run else "released"
    typer.echo(f"{verb} {plan.new_version} ({plan.level}; was {plan.old_version})")
    for line in plan.summary:
        typer.echo(f"  {line}")
    if not dry_run:
        typer.echo(f'commit, then tag it:\n  git commit -am "Release {plan.new_version}" && {plan.tag_command}')


@app.command("archive")
def archive_command(
    destination: Annotated[Path, typer.Argument(help="Folder to write the artefacts into.")] = Path("dist"),
    package: Annotated[Path, typer.Option(help="The package folder.")] = Path("."),
    tag: Annotated[
        str | None, typer.Option(help="Publishing: refuse unless the tag is v<version> and the homepage is real.")
    ] = None,
    debug: Debug = False,
) -> None:
    """Build the release artefacts: the package as a byte-reproducible zip (SHA256SUMS inside) and its checksum."""
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
    package: Annotated[Path, typer.Option(help="The package folder.")] = Path("."),
    debug: Debug = False,
) -> None:
    """Print the citation of the data (this or a released version), then of every source it draws on."""
    from ..cite import CiteError, citation, render

    try:
        typer.echo(render(citation(package, version), output_format))
    except CiteError as error:
        _fail(str(error), debug, error)


class ExportFormat(str, Enum):
    parquet = "parquet"
    sqlite = "sqlite"
    xlsx = "xlsx"
    json = "json"


@app.command("export")
def export_command(
    destination: Annotated[Path, typer.Argument(help="Folder (parquet) or file (sqlite, xlsx, json) to write.")],
    output_format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.sqlite,
    package: Annotated[Path | None, typer.Option(help="The package (default: this version's data).")] = None,
    debug: Debug = False,
) -> None:
    """Export every table, typed from schemas/, as Parquet, SQLite (+ Datasette metadata), xlsx or JSON."""
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
    if output_format is ExportFormat.sqlite:
        typer.echo(f"browse it: datasette {written[0]} -m {written[1]}")


@app.command()
def figures(
    destination: Annotated[Path, typer.Argument(help="Folder to write the SVG figures into.")] = Path("docs/figures"),
    package: Annotated[Path | None, typer.Option(help="The package (default: this version's data).")] = None,
    debug: Debug = False,
) -> None:
    """Draw the timeline, the network of who met whom, and the evidence map (needs the figures extra)."""
    try:
        from ..figures import draw_all
    except ImportError as error:
        _fail(f"figures need matplotlib: pip install 'us-latam-security-facts[figures]' ({error})", debug, error)
    for file in draw_all(destination, package):
        typer.echo(f"wrote {file}")


@app.command()
def rehash(path: PackagePath = Path("."), debug: Debug = False) -> None:
    """Recompute every resource's bytes and sha256 hash in datapackage.json after a hand edit."""
    from ..package import PackageError, refresh_integrity

    try:
        changed = refresh_integrity(path)
    except PackageError as error:
        _fail(str(error), debug, error)
    typer.echo(f"updated bytes and hash of: {', '.join(changed)}" if changed else "all hashes were current")


@app.command()
def codes(
    output_format: Annotated[str, typer.Option("--format", "-f", help="text or markdown.")] = "text",
) -> None:
    """List the catalogue of finding codes with their meaning and fix."""
    from ..codes import CATALOGUE
    from ..docs import codes_markdown

    if output_format == "markdown":
        typer.echo(codes_markdown(), nl=False)
        return
    for code in CATALOGUE.values():
        typer.echo(f"{code.code:32} {code.severity:8} {code.title}")


@app.command()
def docs(
    path: PackagePath = Path("."),
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if a generated document is stale; write nothing.")
    ] = False,
) -> None:
    """Regenerate the documents derived from the package: error codes, data dictionary, README's table of tables."""
    from ..docs import codes_markdown, data_dictionary_markdown, with_tables
    from ..files import write_atomic
    from ..package import find_root

    root = find_root(path)
    targets = {
        root / "docs" / "error-codes.md": codes_markdown(),
        root / "docs" / "data-dictionary.md": data_dictionary_markdown(root),
        root / "README.md": with_tables((root / "README.md").read_text(encoding="utf-8"), root),
    }
    stale = [file for file, text in targets.items() if not file.is_file() or file.read_text(encoding="utf-8") != text]
    if check:
        for file in stale:
            typer.echo(f"stale: {file}; regenerate with: uslatam docs", err=True)
        raise typer.Exit(EXIT_INVALID if stale else EXIT_VALID)
    for file in stale:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, targets[file].encode("utf-8"))
        typer.echo(f"wrote {file}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
