"""Layer: each CSV file read strictly, its header and rows checked, its bytes and hash compared."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..boundary import Refused, read_bytes
from ..csvio import RawTable, check_shape, read_table
from ..package import SHA256, Limits, Resource, file_integrity, sha256_tag
from ..report import Finding
from ..schema import TableSpec, TypedTable
from . import parse

ENGINE = "structure"


def read(
    resource: Resource, spec: TableSpec, limits: Limits, *, fast: bool, parsed_by: str
) -> tuple[TypedTable | None, list[Finding]]:
    """The table parsed to its schema's dtypes (None if unreadable), with the findings of reading it.

    ``fast`` reads with pyarrow when the bytes pass the screen of :mod:`uslatam.arrowcsv`;
    anything unusual is read by the strict reader, which reports exactly what is wrong.
    Cells of the wrong type are credited to ``parsed_by``.
    """
    engine = parsed_by
    if fast and resource.file is not None and resource.file.is_file():
        typed, findings = _read_fast(resource, spec, limits, engine)
        if typed is not None:
            return typed, findings
    raw, findings = check(resource, spec, limits)
    if not raw.readable:
        return None, findings
    typed, parsed = parse.typed_table(spec, raw, resource.path, engine)
    return typed, findings + parsed


def _read_fast(resource: Resource, spec: TableSpec, limits: Limits, engine: str):
    import pandas as pd

    from .. import arrowcsv

    try:
        raw = read_bytes(resource.file, name=resource.path, limit=limits.max_file_bytes, table=resource.name)
    except Refused:
        return None, []  # the strict reader reports why
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing releases the GIL: it runs beside the parse
        digest = pool.submit(sha256_tag, raw)
        table = arrowcsv.read(raw, spec.field_names, max_cell_chars=limits.max_cell_chars)
        integrity = (len(raw), digest.result())
    del raw
    if table is None:
        return None, []
    index = pd.Index(table.lines, dtype="int64", name="line")
    text = table.columns.to_pandas(
        types_mapper=lambda t: pd.StringDtype("pyarrow"), split_blocks=True, self_destruct=True
    )
    text.index = index
    typed = TypedTable(spec=spec, relpath=resource.path, frame=None, record_lines=table.lines, plain_text=table.plain)
    findings = [_tag(f) for f in _integrity(resource, integrity)]
    return typed, findings + parse.parse_text(typed, text, engine)


def check(resource: Resource, spec: TableSpec, limits: Limits) -> tuple[RawTable, list[Finding]]:
    raw = read_table(
        resource.file,
        table=resource.name,
        relpath=resource.path,
        max_cell_chars=limits.max_cell_chars,
        max_columns=limits.max_columns,
        max_bytes=limits.max_file_bytes,
    )
    findings = list(raw.findings)
    if raw.readable:
        findings.extend(check_shape(raw, spec.field_names, table=resource.name, relpath=resource.path))
    findings.extend(_integrity(resource))
    return raw, [_tag(f) for f in findings]


def _integrity(resource: Resource, measured: tuple[int, str] | None = None) -> list[Finding]:
    try:
        size, digest = measured or file_integrity(resource.file)
    except Refused:
        return []  # the reader has reported why the file cannot be read
    findings = []
    declared = resource.declared_hash
    expected = None if declared is None else declared if ":" in declared else f"md5:{declared}"
    hash_differs = expected is not None and expected.startswith(SHA256) and expected != digest
    if resource.declared_bytes is not None and resource.declared_bytes != size and hash_differs:
        # one hand edit, one finding: the file changed after its bytes and hash were recorded
        return [
            Finding(
                "hash-count",
                f"{resource.path} changed after the descriptor recorded it: it has {size} bytes and hash {digest}, "
                f"the descriptor says {resource.declared_bytes} bytes and {declared}",
                table=resource.name,
                file=resource.path,
                value=digest,
                expected=declared,
            )
        ]
    if resource.declared_bytes is not None and resource.declared_bytes != size:
        findings.append(
            Finding(
                "byte-count",
                f"{resource.path} has {size} bytes, the descriptor says {resource.declared_bytes}",
                table=resource.name,
                file=resource.path,
                value=str(size),
                expected=str(resource.declared_bytes),
            )
        )
    if expected is not None:
        if hash_differs:
            findings.append(
                Finding(
                    "hash-count",
                    f"{resource.path} has hash {digest}, the descriptor says {declared}",
                    table=resource.name,
                    file=resource.path,
                    value=digest,
                    expected=declared,
                )
            )
        elif not expected.startswith(SHA256):
            findings.append(
                Finding(
                    "hash-count",
                    f"the descriptor's hash {declared!r} is not sha256:<hex>",
                    table=resource.name,
                    file=resource.path,
                    value=declared,
                    expected="sha256:<64 hex digits>",
                )
            )
    return findings


def _tag(finding: Finding) -> Finding:
    return Finding(**{**finding.__dict__, "found_by": (ENGINE,)})
