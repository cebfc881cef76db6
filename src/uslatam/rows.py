"""Adding sources and rows to a package: evidence located by its words, all or nothing.

A maintainer writes the facts of an article in one input file (YAML, JSON or CSV),
giving evidence by its words; :func:`plan_rows` locates the words, creates or reuses
span rows, assigns missing IDs, merges the rows into the canonical order and
validates the resulting package in full. Only a valid plan is written, by
:func:`apply_plan`, as one atomic change (``uslatam.transaction``).

ID policy: IDs are stable, readable slugs, never reused or renumbered. An input row
may give its ID; when it leaves a single-column ID empty, the ID is the slug of its
evidence words (first six words), with ``-2``, ``-3`` ... if taken. A new span's ID is
the prefix of its source's other spans (``ic`` for the InSight Crime article; for a new
source, the first word of its source_id) followed by the slug of its words.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .boundary import DEFAULT_LIMITS, Refused, UnsafeYaml, check_yaml_shape, input_bytes, package_bytes
from .boundary import read_text as read_bounded_text
from .csvio import dumps, format_cell
from .package import DESCRIPTOR, PackageError, copy_package, find_root, json_bytes, load_readable, sha256_tag
from .report import Finding, Report
from .schema import TableSpec
from .spans import SpanError, locate

EVIDENCE_KEYS = ("words", "prefix", "occurrence", "id")


class AddError(ValueError):
    """The input cannot be added; ``problems`` say where in the input and how to fix it.

    Nothing was written.
    """

    def __init__(self, problems: list[Finding]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass
class InputRow:
    table: str
    values: dict
    file: str
    line: int | None


@dataclass
class Plan:
    """What an add would change: the rows per table, the spans found, and the new file bytes."""

    root: Path
    added: dict[str, list[dict]] = field(default_factory=dict)
    spans_created: list[dict] = field(default_factory=list)
    spans_reused: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    report: Report | None = None
    written: list[str] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)  # values the command chose because the input left them out

    def summary(self) -> dict:
        return {
            "rows": {table: len(rows) for table, rows in self.added.items() if rows},
            "spans_created": [
                {k: s[k] for k in ("span_id", "source_id", "start", "end", "exact")} for s in self.spans_created
            ],
            "spans_reused": list(self.spans_reused),
            "assumed": list(self.assumed),
            "files": sorted(self.files),
        }


# --- reading input ------------------------------------------------------------------


def _problem(
    message: str,
    file: str,
    line: int | None = None,
    table: str | None = None,
    column: str | None = None,
    value=None,
    code: str = "input-error",
) -> Finding:
    return Finding(
        code,
        message,
        table=table,
        file=file,
        line=line,
        column=column,
        value=None if value is None else str(value),
        found_by=("add",),
    )


def read_input(text: str, *, name: str, fmt: str, table: str | None) -> list[InputRow]:
    """Rows of an input document, each with the line it starts on."""
    if fmt == "csv":
        if table is None:
            raise AddError([_problem("a CSV input holds one table: name it (uslatam add TABLE FILE)", name)])
        return _read_csv(text, name, table)
    if fmt in ("yaml", "json"):
        return _read_tree(text, name, table)
    raise AddError([_problem(f"unknown input format {fmt!r}; use csv, json or yaml", name)])


def _read_csv(text: str, name: str, table: str) -> list[InputRow]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, previous, header = [], 0, None
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if header is None:
                header = record
                continue
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise AddError([_problem(f"the row has {len(record)} cells, the header {len(header)}", name, start)])
            rows.append(InputRow(table, dict(zip(header, record)), name, start))
    except csv.Error as error:
        raise AddError([_problem(f"CSV syntax error: {error}", name, previous + 1)]) from None
    return rows


def _read_tree(text: str, name: str, table: str | None) -> list[InputRow]:
    import yaml

    try:
        check_yaml_shape(text)  # anchors, aliases, depth and size refused before anything recursive runs
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnsafeYaml as error:
        raise AddError([_problem(f"the input cannot be read safely: {error}", name)]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise AddError(
            [
                _problem(
                    f"not valid YAML/JSON: {getattr(error, 'problem', error)}", name, mark.line + 1 if mark else None
                )
            ]
        ) from None
    if node is None:
        return []
    loader = yaml.SafeLoader("")

    def construct(value_node):
        return loader.construct_object(value_node, deep=True)

    rows: list[InputRow] = []
    defaults: dict = {}
    if isinstance(node, yaml.SequenceNode):
        if table is None:
            raise AddError([_problem("a list of rows needs its table: uslatam add TABLE FILE", name, 1)])
        groups = [(table, node)]
    elif isinstance(node, yaml.MappingNode):
        groups = []
        for key_node, value_node in node.value:
            key = construct(key_node)
            if isinstance(value_node, yaml.SequenceNode):
                groups.append((key, value_node))
            else:
                defaults[key] = construct(value_node)
    else:
        raise AddError(
            [
                _problem(
                    "the input must be a list of rows or a mapping of table names to rows",
                    name,
                    node.start_mark.line + 1,
                )
            ]
        )
    for group_table, sequence in groups:
        for item in sequence.value:
            if not isinstance(item, yaml.MappingNode):
                raise AddError(
                    [
                        _problem(
                            "each row must be a mapping of column to value", name, item.start_mark.line + 1, group_table
                        )
                    ]
                )
            rows.append(InputRow(group_table, construct(item), name, item.start_mark.line + 1))
    for row in rows:
        for key, value in defaults.items():
            row.values.setdefault(key, value)
    return rows


# --- planning -----------------------------------------------------------------------


def slug(text: str, words: int = 6) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    tokens = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return "-".join(tokens[:words]) or "row"


def _unique(base: str, taken: set[str]) -> str:
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    taken.add(candidate)
    return candidate


@dataclass
class _Table:
    spec: TableSpec
    header: list[str]
    rows: list[dict]


class _Workspace:
    """The package's current tables and texts, and the new rows being added."""

    def __init__(self, root: Path):
        self.root = root
        try:
            self.package = load_readable(root)
        except PackageError as error:
            raise AddError(error.findings) from None
        self.tables: dict[str, _Table] = {}
        for resource in self.package.resources:
            spec = TableSpec.from_schema(resource.name, resource.schema)
            try:
                text = read_bounded_text(resource.file, name=resource.path, limit=DEFAULT_LIMITS.max_file_bytes)
                records = list(csv.reader(io.StringIO(text, newline="")))
            except Refused as refused:
                raise AddError([refused.finding]) from None
            except csv.Error as error:
                raise AddError(
                    [Finding("csv-syntax-error", str(error), table=resource.name, file=resource.path)]
                ) from None
            header = records[0] if records else spec.field_names
            self.tables[resource.name] = _Table(spec, header, [dict(zip(header, r)) for r in records[1:]])
        self.texts: dict[str, str] = {}
        self.new_texts: dict[str, bytes] = {}
        self.origins: dict[tuple[str, tuple], tuple[str, int | None]] = {}
        self.new_licences: list[dict] = []  # a new source's reuse terms, for the descriptor
        self.plan = Plan(root=root)

    def ids(self, table: str) -> set[str]:
        key = self.tables[table].spec.primary_key
        return {row[key[0]] for row in self.tables[table].rows} if len(key) == 1 else set()

    def text_of(self, source_id: str, file: str, line: int | None) -> str:
        if source_id in self.texts:
            return self.texts[source_id]
        source = next((r for r in self.tables["sources"].rows if r["source_id"] == source_id), None)
        if source is None:
            raise AddError(
                [
                    _problem(
                        f"unknown source {source_id!r}: register it first with uslatam add-source",
                        file,
                        line,
                        column="source_id",
                        value=source_id,
                    )
                ]
            )
        data = self.new_texts.get(source["text_path"])
        try:
            if data is None:
                data = package_bytes(
                    self.root,
                    source["text_path"],
                    what=f"text_path of source {source_id!r}",
                    limit=DEFAULT_LIMITS.max_text_bytes,
                    listed_in="data/sources.csv",
                )
            self.texts[source_id] = data.decode("utf-8")
        except Refused as refused:
            raise AddError([refused.finding]) from None
        except UnicodeDecodeError as error:
            raise AddError(
                [_problem(f"{source['text_path']} is not UTF-8 (byte {error.start})", source["text_path"], None)]
            ) from None
        return self.texts[source_id]

    def span_prefix(self, source_id: str) -> str:
        for span in self.tables["spans"].rows:
            if span["source_id"] == source_id and "-" in span["span_id"]:
                return span["span_id"].split("-", 1)[0]
        return source_id.split("-", 1)[0]

    def evidence(self, source_id: str, given, file: str, line: int | None, column: str) -> str:
        """The span_id for evidence given by its words: an existing span, or a new one."""
        if isinstance(given, str):
            given = {"words": given}
        if not isinstance(given, dict) or not given.get("words"):
            raise AddError(
                [
                    _problem(
                        f"{column} needs the evidence words (words:, and prefix: or occurrence: "
                        "where they occur more than once)",
                        file,
                        line,
                        column=column,
                    )
                ]
            )
        unknown = set(given) - set(EVIDENCE_KEYS)
        if unknown:
            raise AddError(
                [
                    _problem(
                        f"{column} has unknown keys {sorted(unknown)}; use {list(EVIDENCE_KEYS)}",
                        file,
                        line,
                        column=column,
                    )
                ]
            )
        text = self.text_of(source_id, file, line)
        occurrence = given.get("occurrence")
        try:
            found = locate(
                text,
                str(given["words"]),
                prefix=given.get("prefix"),
                occurrence=int(occurrence) if occurrence not in (None, "") else None,
            )
        except (SpanError, ValueError) as error:
            raise AddError(
                [
                    _problem(
                        f"{column}: {error}", file, line, column=column, value=given["words"], code="evidence-not-found"
                    )
                ]
            ) from None
        spans = self.tables["spans"].rows
        for span in spans:
            if span["source_id"] == source_id and int(span["start"]) == found.start and int(span["end"]) == found.end:
                if span["span_id"] not in self.plan.spans_reused and span not in self.plan.spans_created:
                    self.plan.spans_reused.append(span["span_id"])
                return span["span_id"]
        wanted = given.get("id")
        taken = self.ids("spans")
        span_id = str(wanted) if wanted else _unique(f"{self.span_prefix(source_id)}-{slug(found.exact)}", taken)
        row = {
            "span_id": span_id,
            "source_id": source_id,
            "start": str(found.start),
            "end": str(found.end),
            "exact": found.exact,
            "prefix": found.prefix,
            "suffix": found.suffix,
        }
        spans.append(row)
        self.plan.spans_created.append(row)
        self.plan.added.setdefault("spans", []).append(row)
        self.origins[("spans", (span_id,))] = (file, line)
        return span_id

    def add(self, item: InputRow) -> None:
        if item.table not in self.tables:
            raise AddError(
                [
                    _problem(
                        f"unknown table {item.table!r}; tables: {', '.join(self.tables)}",
                        item.file,
                        item.line,
                        item.table,
                    )
                ]
            )
        table = self.tables[item.table]
        spec = table.spec
        span_fields = {name: name.removesuffix("_id") for name in spec.references("spans")}
        evidence_of = {evidence: field_name for field_name, evidence in span_fields.items()}
        values = dict(item.values)
        # CSV form of evidence: span_words, span_prefix, span_occurrence
        for evidence in list(evidence_of):
            flat = {
                k: values.pop(f"{evidence}_{k}")
                for k in ("words", "prefix", "occurrence")
                if f"{evidence}_{k}" in values
            }
            flat = {k: v for k, v in flat.items() if v not in (None, "")}
            if flat:
                values[evidence] = flat
        # A table without a source_id column (entities) still gives evidence by words: the source
        # whose text holds them is named in the row or once beside the rows, for the span only.
        evidence_source = values.pop("source_id", None) if "source_id" not in spec.field_names else None
        if evidence_source not in (None, "") and not any(values.get(e) not in (None, "") for e in evidence_of):
            evidence_source = None  # named for other tables' rows; nothing here needs it
        unknown = [k for k in values if k not in spec.field_names and k not in evidence_of]
        if unknown:
            raise AddError(
                [
                    _problem(
                        f"unknown column(s) {unknown} for table {item.table!r}",
                        item.file,
                        item.line,
                        item.table,
                        unknown[0],
                    )
                ]
            )
        row = {
            name: format_cell(values.get(name)) if not isinstance(values.get(name), dict) else ""
            for name in spec.field_names
        }
        for evidence, field_name in evidence_of.items():
            if evidence in values and values[evidence] not in (None, ""):
                given = values[evidence]
                if isinstance(given, dict) and row[field_name] and "id" not in given:
                    given = {**given, "id": row[field_name]}
                source_id = row.get("source_id") or evidence_source
                if not source_id:
                    raise AddError(
                        [
                            _problem(
                                f"{evidence} given by its words needs the source whose text holds them: "
                                "a source_id in the row, or once beside the rows (source_id: ID at the top)",
                                item.file,
                                item.line,
                                item.table,
                                "source_id",
                            )
                        ]
                    )
                row[field_name] = self.evidence(str(source_id), given, item.file, item.line, evidence)
        key = spec.primary_key
        if len(key) == 1 and not row[key[0]]:
            words = next(
                (s["exact"] for s in self.tables["spans"].rows if s["span_id"] == row.get("span_id")), None
            ) or next((row[f] for f in ("name", "label", "title", "summary", "subject") if row.get(f)), item.table)
            row[key[0]] = _unique(slug(words), self.ids(item.table))
        table.rows.append(row)
        self.plan.added.setdefault(item.table, []).append(row)
        self.origins[(item.table, tuple(row[k] for k in key))] = (item.file, item.line)

    def render(self) -> dict[str, tuple[bytes, dict[int, tuple]]]:
        """New bytes of every changed table, with the physical line of each added row."""
        result = {}
        for name in self.plan.added:
            table = self.tables[name]
            ordered = sorted(table.rows, key=table.spec.order_key())
            header = table.header
            text = dumps(header, [[r.get(h, "") for h in header] for r in ordered])
            lines, line = {}, 2
            for record in ordered:
                key = tuple(record[k] for k in table.spec.primary_key)
                lines[line] = (name, key)
                line += dumps(header, [[record.get(h, "") for h in header]]).count("\n") - 1
            result[name] = (text.encode("utf-8"), lines)
        return result


def _validate_candidate(root: Path, files: dict[str, bytes]) -> Report:
    """Validate the package as it would be, in a scratch copy (the real one is untouched)."""
    from .validate import validate

    with tempfile.TemporaryDirectory(prefix="uslatam-add-") as scratch:
        copy = copy_package(root, Path(scratch) / "package")
        for relpath, data in files.items():
            (copy / relpath).parent.mkdir(parents=True, exist_ok=True)
            (copy / relpath).write_bytes(data)
        report = validate(copy)
        report.package = str(root)
        return report


def _add_licences(descriptor: dict, licences: list[dict]) -> None:
    """Add each licence to the package and to every table that already carries a source's terms."""
    for licence in licences:
        descriptor.setdefault("licenses", []).append(licence)
        for resource in descriptor.get("resources", []):
            own = resource.get("licenses") or []
            if any(isinstance(entry, dict) and entry.get("sourceIds") for entry in own):
                resource["licenses"] = [*own, copy.deepcopy(licence)]


def _finish(work: _Workspace) -> Plan:
    plan = work.plan
    rendered = work.render()
    descriptor = copy.deepcopy(work.package.descriptor)  # as package.load read it, through the boundary
    line_owner: dict[tuple[str | None, int | None], tuple[str, int | None]] = {}
    for name, (data, lines) in rendered.items():
        resource = next(r for r in descriptor["resources"] if r["name"] == name)
        plan.files[resource["path"]] = data
        resource["bytes"] = len(data)
        resource["hash"] = sha256_tag(data)
        for line, key in lines.items():
            if (name, key[1]) in work.origins:
                line_owner[(name, line)] = work.origins[(name, key[1])]
    for relpath, data in work.new_texts.items():
        plan.files[relpath] = data
    _add_licences(descriptor, work.new_licences)
    plan.files[DESCRIPTOR] = json_bytes(descriptor)
    report = _validate_candidate(work.root, plan.files)
    plan.report = report
    if not report.valid:
        problems = []
        for finding in report.errors:
            owner = line_owner.get((finding.table, finding.line))
            if owner:
                problems.append(
                    Finding(
                        finding.code,
                        f"{finding.message} (would be {finding.file}:{finding.line})",
                        table=finding.table,
                        file=owner[0],
                        line=owner[1],
                        column=finding.column,
                        value=finding.value,
                        expected=finding.expected,
                        found_by=finding.found_by,
                    )
                )
            else:
                problems.append(finding)
        raise AddError(problems)
    return plan


def plan_rows(root: str | Path, rows: list[InputRow]) -> Plan:
    """Locate evidence, assign IDs, merge and validate: the change ``apply_plan`` would write."""
    work = _Workspace(find_root(root))
    for item in rows:
        work.add(item)
    return _finish(work)


def plan_source(root: str | Path, text_file: Path, metadata: dict, *, source_name: str) -> Plan:
    """Register a new source text: store it byte-for-byte and add its sources row."""
    root = find_root(root)
    work = _Workspace(root)
    try:
        data = input_bytes(text_file)
    except Refused as refused:
        raise AddError([refused.finding]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AddError(
            [
                _problem(
                    f"the text is not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}",
                    source_name,
                    data.count(b"\n", 0, error.start) + 1,
                    code="encoding-error",
                )
            ]
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    for line, row in enumerate(work.tables["sources"].rows, 2):
        if row["sha256"] == digest:
            raise AddError(
                [
                    _problem(
                        f"this text is already registered as source {row['source_id']!r} "
                        f"(data/sources.csv line {line})",
                        source_name,
                        None,
                        "sources",
                        "sha256",
                        digest,
                        code="duplicate-source",
                    )
                ]
            )
    metadata = dict(metadata)
    source_id = str(metadata.pop("source_id", "") or "")
    if not source_id:
        raise AddError([_problem("the source needs a source_id (--id)", source_name, column="source_id")])
    authors = metadata.pop("authors", []) or []
    authors_basis = metadata.pop("authors_basis", None)
    reuse_words = metadata.pop("reuse_terms_words", None)
    text_path = f"sources/{source_id}.txt"
    work.new_texts[text_path] = data
    work.texts[source_id] = text
    row = {
        **{k: v for k, v in metadata.items()},
        "source_id": source_id,
        "text_path": text_path,
        "sha256": digest,
        "bytes": len(data),
        "code_points": len(text),
    }
    title = str(metadata.get("title") or "")
    if title and title in text and not row.get("title_span_id"):
        row["title_span"] = {"words": title, "occurrence": 1}
    if reuse_words:
        row["reuse_terms_span"] = {"words": reuse_words}
    publisher = str(metadata.get("publisher") or "")
    in_text = {"title": "title_span" in row, "publisher": bool(publisher) and publisher in text}
    # Until a maintainer marks the page furniture, the whole text is the body (coverage then asks for all of it).
    row.setdefault("body_start", 0)
    row.setdefault("body_end", len(text))
    row.setdefault("recording", "in_progress")  # its rows come in later adds
    for name in ("title", "publisher", "url", "published"):
        if not row.get(f"{name}_basis"):
            basis = row[f"{name}_basis"] = "text" if in_text.get(name) else "publisher_page"
            why = "it is in the text" if basis == "text" else "read from the publisher's page, not the text"
            work.plan.assumed.append(f"{name}_basis: {basis} ({why}); if not, give --{name}-basis")
    if authors and not authors_basis:
        authors_basis = "text" if all(str(a) in text for a in authors) else "publisher_page"
        work.plan.assumed.append(
            f"authors_basis: {authors_basis} ("
            + ("every name is in the text" if authors_basis == "text" else "a name is not in the text")
            + "); if not, give --authors-basis"
        )
    work.add(InputRow("sources", row, source_name, None))
    terms = str(metadata.get("reuse_terms") or "")
    if terms:  # the terms travel with the text: a licence of the package, and of the tables copying words
        work.new_licences.append(
            {
                "title": f"{publisher or source_id} reuse terms, as the sources row states them: {terms}",
                "path": str(metadata.get("url") or text_path),
                "sourceIds": [source_id],
            }
        )
    for order, name in enumerate(authors, 1):
        work.add(
            InputRow(
                "source_authors",
                {"source_id": source_id, "author_order": order, "name": name, "basis": authors_basis},
                source_name,
                None,
            )
        )
    return _finish(work)


def add_rows(root: str | Path, rows: list[InputRow], *, dry_run: bool = False, lock_timeout: float = 10.0) -> Plan:
    """Plan and (unless ``dry_run``) write rows, holding the package lock throughout."""
    return _locked(find_root(root), lambda: plan_rows(root, rows), dry_run, lock_timeout)


def add_source(
    root: str | Path,
    text_file: Path,
    metadata: dict,
    *,
    source_name: str,
    dry_run: bool = False,
    lock_timeout: float = 10.0,
) -> Plan:
    """Plan and (unless ``dry_run``) register a source text, holding the package lock throughout."""
    return _locked(
        find_root(root), lambda: plan_source(root, text_file, metadata, source_name=source_name), dry_run, lock_timeout
    )


def _locked(root: Path, make_plan, dry_run: bool, lock_timeout: float) -> Plan:
    # Planning reads the files the commit replaces: the lock spans both, so no update is lost.
    from .transaction import Change, PackageLock, recover

    with PackageLock(root, lock_timeout):
        recover(root)
        plan = make_plan()
        if not dry_run:
            change = Change(root)
            for relpath, data in plan.files.items():
                change.stage(relpath, data)
            plan.written = change.commit()
        return plan
