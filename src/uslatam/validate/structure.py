"""Layer: each CSV file read strictly, its header and rows checked, its bytes and hash compared."""

from __future__ import annotations

from ..csvio import RawTable, check_shape, read_table
from ..package import Limits, Resource, file_integrity
from ..report import Finding
from ..schema import TableSpec

ENGINE = "structure"


def check(resource: Resource, spec: TableSpec, limits: Limits) -> tuple[RawTable, list[Finding]]:
    raw = read_table(
        resource.file,
        table=resource.name,
        relpath=resource.path,
        max_cell_chars=limits.max_cell_chars,
        max_columns=limits.max_columns,
    )
    findings = list(raw.findings)
    if raw.readable:
        findings.extend(check_shape(raw, spec.field_names, table=resource.name, relpath=resource.path))
    findings.extend(_integrity(resource))
    return raw, [_tag(f) for f in findings]


def _integrity(resource: Resource) -> list[Finding]:
    size, digest = file_integrity(resource.file)
    findings = []
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
    declared = resource.declared_hash
    if declared is not None:
        expected = declared if ":" in declared else f"md5:{declared}"
        if expected.startswith("sha256:") and expected != digest:
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
        elif not expected.startswith("sha256:"):
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
