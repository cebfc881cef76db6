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


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class Engine(str, Enum):
    both = "both"
    frictionless = "frictionless"
    pandera = "pandera"


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


@app.command()
def validate(
    path: PackagePath = Path("."),
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.text,
    engine: Annotated[Engine, typer.Option(help="Which table engines run besides lint, structure and rules.")] = Engine.both,
    max_file_bytes: Annotated[int | None, typer.Option(help="Refuse data files larger than this.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code.")] = False,
    debug: Debug = False,
) -> None:
    """Validate every layer of a data package and report all findings together."""
    from ..package import DEFAULT_LIMITS, Limits
    from ..validate import ENGINES
    from ..validate import validate as run
    from .render import as_github, as_json, as_text, colour_enabled

    limits = DEFAULT_LIMITS if max_file_bytes is None else Limits(max_file_bytes=max_file_bytes)
    engines = ENGINES if engine is Engine.both else (engine.value,)
    try:
        report = run(path, limits=limits, engines=engines)
    except Exception as error:  # an unexpected failure, not a finding: say so in one line
        _fail(f"validation could not run: {error}", debug, error)
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
    from ..docs import codes_markdown
    from ..codes import CATALOGUE

    if output_format == "markdown":
        typer.echo(codes_markdown(), nl=False)
        return
    for code in CATALOGUE.values():
        typer.echo(f"{code.code:32} {code.severity:8} {code.title}")


@app.command()
def docs(
    path: PackagePath = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a generated document is stale; write nothing.")] = False,
) -> None:
    """Regenerate the documents derived from the package: docs/error-codes.md and the README's table of tables."""
    from ..docs import codes_markdown, with_tables
    from ..files import write_atomic
    from ..package import find_root

    root = find_root(path)
    targets = {
        root / "docs" / "error-codes.md": codes_markdown(),
        root / "README.md": with_tables((root / "README.md").read_text(encoding="utf-8"), root),
    }
    stale = [file for file, text in targets.items()
             if not file.is_file() or file.read_text(encoding="utf-8") != text]
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
