"""Rules of release history: retracted rows stay retracted, no released row vanishes, versions agree."""

from __future__ import annotations

from collections.abc import Iterator

from ...history import CHANGELOG, released_versions
from ...report import Finding
from ...schema import TypedTable
from ..context import ENGINE, Context, as_text, isin, row_keys
from . import package_rule, rule


@rule(
    "retracted-id-reused",
    "retraction-error",
    "removed-without-retraction",
    needs={"retractions": ("table_name", "row_id", "replacement_id")},
    applies=lambda spec: bool(spec.primary_key) and spec.name != "retractions",
    reads=("baseline",),
)
def retracted_rows(ctx: Context, typed: TypedTable) -> Iterator[Finding]:
    """A retracted ID stays unused, a replacement is a row, and no released row vanishes silently.

    Runs as each table is read (``retractions`` is read first), against the table's whole key.
    """
    import pandas as pd

    columns = [ctx.column("retractions", c) for c in ("table_name", "row_id", "replacement_id")]
    if any(c is None for c in columns):
        return
    name = typed.spec.name
    baseline = ctx.baseline
    old_rows = baseline.tables.get(name) if baseline is not None else None
    ours = (as_text(columns[0]) == name).fillna(False).to_numpy(bool)  # text whatever type the schema gives it
    if not ours.any() and not old_rows:
        return  # nothing retracted from this table, nothing released: no key to look up (nor cell read)
    if any(c not in typed.frame.columns for c in typed.spec.primary_key):
        return
    keys = row_keys(typed)
    mine = int(ours.sum())
    retracted: set[str] = set()
    if mine:  # most tables have nothing retracted: no columns cut to nothing
        row_ids, replacement = as_text(columns[1][ours]), as_text(columns[2][ours])
        retracted = set(row_ids.dropna().tolist())
        found = isin(pd.concat([row_ids, replacement]).fillna(""), keys)  # one hash set for both columns
        reused = found[:mine] & row_ids.notna().to_numpy(bool)
        for line, row_id in row_ids[reused].items():
            yield ctx.finding(
                "retracted-id-reused", f"{name} has a row {row_id!r} again", "retractions", line, "row_id", row_id
            )
        unknown = replacement.notna().to_numpy(bool) & ~found[mine:]
        for line, value in replacement[unknown].items():
            yield ctx.finding(
                "retraction-error",
                f"the replacement {value!r} is not a row of {name}",
                "retractions",
                line,
                "replacement_id",
                value,
            )
    if not old_rows:
        return
    old = pd.Series(["|".join(r.get(c, "") for c in typed.spec.primary_key) for r in old_rows], dtype="string")
    for key in old[~isin(old, keys)].tolist():
        if key in retracted:
            continue
        yield Finding(
            "removed-without-retraction",
            f"{name} row {key!r} of release {baseline.label} is gone without a retraction "
            "(no row has that key any more: the row was removed, or its key was edited)",
            table=name,
            file=typed.relpath,
            value=key,
            expected="the row, or a retraction record",
            found_by=(ENGINE,),
        )


@package_rule("retraction-error", needs={"retractions": ("table_name",)})
def retraction_tables(ctx: Context) -> Iterator[Finding]:
    """Retractions name tables of the package."""
    table = ctx.rows("retractions", ("table_name",))
    if table is None:
        return
    names = table["table_name"].astype("string")
    declared = [r.get("name") for r in ctx.package.descriptor.get("resources") or [] if isinstance(r, dict)]
    unknown = (names.notna() & ~names.isin(declared)).to_numpy(bool)  # declared: an unreadable table is one too
    for line, name in names[unknown].items():
        yield ctx.finding(
            "retraction-error", f"{name!r} is not a table of the package", "retractions", line, "table_name", name
        )


def _licensed_sources(licences) -> set[str]:
    """The source IDs whose reuse terms these licence entries state (their ``sourceIds``)."""
    named: set[str] = set()
    for licence in licences if isinstance(licences, list) else []:
        ids = licence.get("sourceIds") if isinstance(licence, dict) else None
        if isinstance(ids, list):
            named.update(i for i in ids if isinstance(i, str))
    return named


@package_rule("source-terms-unlicensed", needs={"sources": ("source_id",)})
def source_terms_licensed(ctx: Context) -> Iterator[Finding]:
    """Every source's reuse terms are a licence of the package, and of every table that carries sources' terms.

    One finding a source, at its row, naming where its terms are missing.
    """
    table = ctx.rows("sources", ("source_id",))
    if table is None:
        return
    ids = table["source_id"].astype("string")
    ids = ids[ids.notna()]
    descriptor = ctx.package.descriptor
    licensed = _licensed_sources(descriptor.get("licenses"))
    carrying = {
        str(resource.get("name")): _licensed_sources(resource.get("licenses"))
        for resource in descriptor.get("resources") or []
        if isinstance(resource, dict) and _licensed_sources(resource.get("licenses"))
    }
    for line, source_id in ids.items():
        lacking = sorted(name for name, named in carrying.items() if source_id not in named)
        if source_id in licensed and not lacking:
            continue
        where = [] if source_id in licensed else ["the package"]
        where += [f"table {name}" for name in lacking]
        yield ctx.finding(
            "source-terms-unlicensed",
            f"the reuse terms of source {source_id!r} are no licence of {', '.join(where)} in datapackage.json",
            "sources",
            line,
            "reuse_terms",
            source_id,
            "a licenses entry whose sourceIds names the source, in the package and each table carrying sources' terms",
        )


@package_rule("version-mismatch")
def versions(ctx: Context) -> Iterator[Finding]:
    """datapackage.json, CITATION.cff and CHANGELOG.md's newest release name the same version."""
    from ...package import UnsafeYaml, load_yaml

    version = ctx.package.descriptor.get("version")
    citation_text, problem = _release_file(ctx, "CITATION.cff")
    if problem is not None:
        yield problem
    if citation_text is not None:
        try:
            citation = load_yaml(citation_text)
        except UnsafeYaml as error:
            yield Finding(
                "version-mismatch", f"CITATION.cff cannot be read: {error}", file="CITATION.cff", found_by=(ENGINE,)
            )
            citation = None
        cited = str(citation.get("version")) if isinstance(citation, dict) and "version" in citation else None
        if cited != version:
            yield Finding(
                "version-mismatch",
                f"CITATION.cff has version {cited!r}, datapackage.json {version!r}",
                file="CITATION.cff",
                line=_line_of(citation_text, "version:"),
                column="version",
                value=cited,
                expected=version,
                found_by=(ENGINE,),
            )
    changelog, problem = _release_file(ctx, CHANGELOG)
    if problem is not None:
        yield problem
    if changelog is not None:
        released = released_versions(changelog)
        if released and released[0] != version:
            yield Finding(
                "version-mismatch",
                f"CHANGELOG.md's newest release is {released[0]!r}, datapackage.json {version!r}",
                file=CHANGELOG,
                line=_line_of(changelog, f"## [{released[0]}]"),
                value=released[0],
                expected=version,
                found_by=(ENGINE,),
            )


def _release_file(ctx: Context, relpath: str) -> tuple[str | None, Finding | None]:
    """A release file's text through the trust boundary; absent is (None, None), refused is a finding."""
    from ...boundary import DEFAULT_LIMITS, Refused, package_text

    root = ctx.package.root
    if not (root / relpath).exists() and not (root / relpath).is_symlink():
        return None, None
    try:
        return package_text(root, relpath, what=relpath, limit=DEFAULT_LIMITS.max_file_bytes), None
    except Refused as refused:
        finding = refused.finding
        return None, Finding(
            "version-mismatch",
            f"{relpath} cannot be read: {finding.message}",
            file=relpath,
            found_by=(ENGINE,),
        )


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(needle):
            return number
    return None
