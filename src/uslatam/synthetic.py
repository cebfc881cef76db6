"""Synthetic packages of any size, built from the real package, valid unless defects are asked for.

The real package is the template: every table's rows are repeated in *bundles*, the
IDs of bundle ``c`` get the suffix ``-c``, and references point into a bundle that
exists in full, so keys resolve and every cross-table rule holds (a span's words,
a speaker's office, a part within its whole). Each source gets a text of its own:
the stored article plus a line naming the copy, so every text has its own SHA-256.

Sizes: ``rows`` rows in every fact table, ``spans`` and ``retractions``; one source
(and its authors) per ``rows_per_source`` rows; ``vocabularies`` unchanged (it is the
code list the schemas' enums must equal).

Defects are injected at seeded places, each recorded as the finding it must cause,
(code, table, line, column), in ``defects.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from .paths import own_package
from .schema import TableSpec
from .spans import context

DEFECT_KINDS = ("type", "enum", "required", "pattern", "foreign-key", "primary-key", "stray-quote", "extra-cell")
# Where each defect goes: cells whose change causes exactly the one finding named.
_DEFECT_PLACES: dict[str, list[tuple[str, str | None]]] = {
    "type": [("spans", "start"), ("statistics", "value"), ("spans", "end")],
    "enum": [("events", "status"), ("quotes", "quote_type"), ("trend_claims", "direction")],
    "required": [("events", "summary"), ("trend_claims", "subject"), ("positions", "label")],
    "pattern": [("trend_claims", "period"), ("occupancies", "valid_on")],
    "foreign-key": [
        ("quotes", "speaker_occupancy_id"),
        ("trend_claims", "area_entity_id"),
        ("event_participants", "span_id"),
    ],
    "primary-key": [("trend_claims", "claim_id"), ("retractions", "row_id")],
    "stray-quote": [("trend_claims", "subject"), ("events", "summary")],
    "extra-cell": [("trend_claims", None), ("quotes", None)],
}
_DEFECT_CODES = {
    "type": "type-error",
    "enum": "constraint-error",
    "required": "constraint-error",
    "pattern": "constraint-error",
    "foreign-key": "foreign-key",
    "primary-key": "primary-key",
    "stray-quote": "csv-syntax-error",
    "extra-cell": "extra-cell",
}
_BAD_VALUES = {"type": "n/a", "enum": "no-such-code", "required": "", "pattern": "sometime"}


@dataclass(frozen=True)
class Defect:
    kind: str
    code: str
    table: str
    line: int
    column: str | None

    def key(self) -> tuple:
        return (self.code, self.table, self.line, self.column)


def generate(
    target: str | Path,
    rows: int,
    *,
    seed: int = 0,
    defects: dict[str, int] | None = None,
    rows_per_source: int = 1000,
    template: str | Path | None = None,
) -> list[Defect]:
    """Write a package of ``rows`` rows per table to ``target`` (a new or empty folder).

    ``defects`` maps a kind of :data:`DEFECT_KINDS` to how many to inject. Returns
    the injected defects (also written to ``target/defects.json``).
    """
    import pandas as pd

    source = Path(template) if template else own_package()
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty")
    descriptor = json.loads((source / "datapackage.json").read_text(encoding="utf-8"))
    specs = {
        r["name"]: TableSpec.from_schema(r["name"], json.loads((source / r["schema"]).read_text(encoding="utf-8")))
        for r in descriptor["resources"]
    }
    templates = {
        r["name"]: pd.read_csv(source / r["path"], dtype=str, keep_default_na=False) for r in descriptor["resources"]
    }
    facts = [name for name, spec in specs.items() if _role(spec) == "fact"]
    widest = max(len(templates[name]) for name in facts)
    if rows < widest:
        raise ValueError(f"rows must be at least {widest}, the largest template table")
    full_bundles = rows // widest  # every replicated table has at least this many whole bundles
    source_count = max(1, min(full_bundles, -(-rows // rows_per_source)))

    sizes = {
        name: _rows_of(name, _role(spec), len(templates[name]), rows, source_count) for name, spec in specs.items()
    }
    planned = _planned_defects(defects or {}, sizes)
    (target / "data").mkdir(parents=True, exist_ok=True)
    (target / "sources").mkdir(exist_ok=True)
    texts = _write_sources(source, target, templates["sources"], source_count)
    # One table at a time, built, ordered, given its defects and written, then let go: memory holds
    # one table, so a package of millions of rows a table is written on a machine that validates it.
    injected: list[Defect] = []
    source_ids: list[str] = []
    for resource in descriptor["resources"]:
        name = resource["name"]
        spec, frame, role = specs[name], templates[name], _role(specs[name])
        if name == "sources":
            frame = _sources_table(frame, texts)
            source_ids = list(frame["source_id"])
        elif role == "source":
            frame = _per_source_table(frame, spec, source_count)
        elif role == "codelist":
            pass
        elif name == "retractions":
            frame = _retractions_table(rows, facts, specs)
        elif role == "fact":
            frame = _replicate(frame, spec, rows, full_bundles, source_count)
        else:
            raise ValueError(f"no way to grow the {role} table {name!r}")
        if name == "spans":
            _fix_span_context(frame, texts, templates["spans"])
        frame = _in_order(frame, spec)
        mine, structural = _inject(frame, name, planned.get(name, []), random.Random(f"{seed}:{name}"))
        lines = _write_table(target / resource["path"], frame, structural)
        # positions become physical lines now that the file is written
        injected += [Defect(d.kind, d.code, d.table, int(lines[d.line]), d.column) for d in mine]
        resource.pop("bytes", None)
        resource.pop("hash", None)
        del frame
    for folder in ("schemas",):
        shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)
    if (source / "CITATION.cff").is_file():  # a package without a citation is invalid (missing-citation)
        shutil.copy2(source / "CITATION.cff", target / "CITATION.cff")
    _licence_every_source(descriptor, source_ids)
    descriptor["name"] = f"{descriptor.get('name', 'package')}-synthetic"
    descriptor["title"] = f"Synthetic package: {rows} rows per table, seed {seed}"
    from .package import json_bytes, refresh_integrity

    (target / "datapackage.json").write_bytes(json_bytes(descriptor))
    refresh_integrity(target)
    (target / "defects.json").write_text(json.dumps([d.__dict__ for d in injected], indent=1) + "\n", encoding="utf-8")
    return injected


def _rows_of(name: str, role: str, template_rows: int, rows: int, source_count: int) -> int:
    """How many rows the generated table ``name`` will have."""
    if name == "sources":
        return source_count
    if role == "source":
        return template_rows * source_count
    if role == "codelist":
        return template_rows
    return rows  # retractions and the fact tables


def _planned_defects(defects: dict[str, int], sizes: dict[str, int]) -> dict[str, list[tuple[str, int, str | None]]]:
    """Per table, the (kind, number, column) of each defect to inject: the places of a kind taken in turn."""
    planned: dict[str, list[tuple[str, int, str | None]]] = {}
    for kind, count in defects.items():
        if kind not in DEFECT_KINDS:
            raise ValueError(f"unknown defect kind {kind!r}; known: {', '.join(DEFECT_KINDS)}")
        places = [p for p in _DEFECT_PLACES[kind] if sizes.get(p[0], 0) > 1]
        for number in range(count):
            table, column = places[number % len(places)]
            planned.setdefault(table, []).append((kind, number, column))
    return planned


def _inject(frame, table: str, planned: list[tuple[str, int, str | None]], rng: random.Random):
    """Put a table's planned defects at seeded rows: (the defects at row positions, the structural ones)."""
    injected: list[Defect] = []
    structural: list[tuple[int, str, str | None]] = []
    for kind, number, column in planned:
        # a bad pattern replaces a value (an empty cell may have to stay empty: requiredWhen / emptyWhen)
        filled = frame[column].to_numpy() != "" if kind == "pattern" and column else None
        position = _free_row(rng, frame, table, injected, structural, filled)
        if kind in _BAD_VALUES:
            frame.iat[position, frame.columns.get_loc(column)] = _BAD_VALUES[kind]
        elif kind == "foreign-key":
            frame.iat[position, frame.columns.get_loc(column)] = f"missing-{number}"
        elif kind == "primary-key":
            frame.iat[position, frame.columns.get_loc(column)] = frame.iat[position - 1, frame.columns.get_loc(column)]
            if table == "retractions":  # the key is (table_name, row_id)
                frame.iat[position, 0] = frame.iat[position - 1, 0]
            column = None
        else:
            structural.append((position, kind, column))
            column = column if kind == "stray-quote" else None  # a stray mark's cell is named; an extra cell has none
        injected.append(Defect(kind, _DEFECT_CODES[kind], table, position, column))
    return injected, structural


def _role(spec: TableSpec) -> str:
    if spec.role is None:
        raise ValueError(f"schemas/{spec.name}.json has no tableRole: the generator cannot tell how the table grows")
    return spec.role


def _in_order(frame, spec: TableSpec):
    """The rows in the schema's row order, as every writer of the package keeps them."""
    import pandas as pd

    integer = {f.name for f in spec.fields if f.type == "integer"}
    if not spec.order or len(frame) < 2:
        return frame
    return frame.sort_values(
        list(spec.order),
        key=lambda column: pd.to_numeric(column) if column.name in integer else column,
        kind="stable",
        ignore_index=True,
    )


def _free_row(rng: random.Random, frame, table: str, injected: list[Defect], structural, allowed=None) -> int:
    """A row with no defect yet (nor one on the row before, which a duplicate key copies), among ``allowed``."""
    taken = {d.line for d in injected if d.table == table}
    taken |= {d.line + 1 for d in injected if d.table == table}
    while True:
        position = rng.randrange(1, len(frame))
        if position not in taken and position - 1 not in taken and (allowed is None or allowed[position]):
            return position


def _write_sources(template_root: Path, target: Path, sources, count: int) -> list[tuple[str, str, str]]:
    """(source_id, text_path, text) of every generated source: the article with a line naming the copy."""
    row = sources.iloc[0]
    article = (template_root / row["text_path"]).read_text(encoding="utf-8")
    stem = Path(row["text_path"]).stem
    texts = []
    for k in range(count):
        text = f"{article}\nSynthetic copy {k} of this text, for testing at scale.\n"
        path = f"sources/{stem}-{k}.txt"
        (target / path).write_bytes(text.encode("utf-8"))
        texts.append((_suffixed(row["source_id"], k), path, text))
    return texts


def _sources_table(frame, texts):
    import pandas as pd

    row = frame.iloc[0].to_dict()
    records = []
    for k, (source_id, path, text) in enumerate(texts):
        data = text.encode("utf-8")
        records.append(
            {
                **row,
                "source_id": source_id,
                "title_span_id": _suffixed(row["title_span_id"], k),
                "reuse_terms_span_id": _suffixed(row["reuse_terms_span_id"], k),
                "text_path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": str(len(data)),
                "code_points": str(len(text)),
            }
        )
    return pd.DataFrame(records, columns=frame.columns)


def _per_source_table(frame, spec: TableSpec, count: int):
    """The template's rows once per source, each copy referencing its own source."""
    import pandas as pd

    copies = []
    for k in range(count):
        copy = frame.copy()
        for column in spec.references("sources"):
            copy[column] = copy[column] + f"{BUNDLE}{k}"
        copies.append(copy)
    return pd.concat(copies, ignore_index=True)


def _retractions_table(rows: int, facts: list[str], specs: dict[str, TableSpec]):
    import pandas as pd

    names = [name for name in facts if len(specs[name].primary_key) == 1]
    index = pd.RangeIndex(rows)
    return pd.DataFrame(
        {
            "table_name": [names[i % len(names)] for i in index],
            "row_id": [f"withdrawn-{i}" for i in index],
            "retracted_on": "2017-05-20",
            "reason": "Synthetic retraction, for testing at scale.",
            "replacement_id": "",
        }
    )


# A bundle's IDs end in "-b<number>": a bare number could read as a month, a day or a year of an ID's date.
BUNDLE = "-b"


def _suffixed(value: str, bundle: int) -> str:
    return f"{value}{BUNDLE}{bundle}" if value else value


def _replicate(frame, spec: TableSpec, rows: int, full_bundles: int, source_count: int):
    """``rows`` rows of bundles of ``frame``; IDs and references carry their bundle number."""
    import numpy as np
    import pandas as pd

    width = len(frame)
    position = np.arange(rows)
    template_row = position % width
    bundle = position // width
    # References go to a bundle every table has in full; a key made of references
    # (event_participants) keeps its own bundle so that its rows stay distinct.
    shared = bundle % full_bundles
    suffix_own = pd.Series(bundle).astype(str).radd(BUNDLE).to_numpy()
    suffix_shared = pd.Series(shared).astype(str).radd(BUNDLE).to_numpy()
    suffix_source = pd.Series(shared % source_count).astype(str).radd(BUNDLE).to_numpy()
    targets = {key.fields[0]: key.resource or spec.name for key in spec.foreign_keys if len(key.fields) == 1}
    # an ID of the table another field names is a reference too (referenceTableField)
    targets.update({f.name: "" for f in spec.fields if f.reference_table_field})
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=object)[template_row]
        if name in targets:
            # in a key made of references, the first keeps the row's own bundle (rows stay distinct) and
            # the others point into a full bundle, where what they name is mentioned
            own = name in spec.primary_key and name == next(f for f in spec.primary_key if f in targets)
            suffix = suffix_source if targets[name] == "sources" else suffix_own if own else suffix_shared
        elif spec.primary_key == (name,):
            suffix = suffix_own
        else:
            columns[name] = values
            continue
        present = values != ""
        columns[name] = np.where(present, values.astype(str) + suffix, "").astype(object)
    return pd.DataFrame(columns, columns=frame.columns)


def _fix_span_context(spans, texts, template) -> None:
    """Spans near the end of the article see the copy's own last line in their suffix."""
    import numpy as np

    by_id = {source_id: text for source_id, _, text in texts}
    article_length = len(texts[0][2]) - len(texts[0][2].split("\n")[-2]) - 2
    ends = spans["end"].astype(int).to_numpy()
    near = np.flatnonzero(ends + 32 > article_length)
    for position in near:
        text = by_id[spans.iat[position, spans.columns.get_loc("source_id")]]
        start, end = int(spans.iat[position, spans.columns.get_loc("start")]), int(ends[position])
        prefix, suffix = context(text, start, end)
        spans.iat[position, spans.columns.get_loc("prefix")] = prefix
        spans.iat[position, spans.columns.get_loc("suffix")] = suffix


def _write_table(path: Path, frame, structural: list[tuple[int, str, str | None]]):
    """Write canonical CSV; returns the physical line of every row (after the structural defects)."""
    import numpy as np

    text = frame.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    if structural:
        records = _split_records(text, frame)
        for position, kind, column in structural:
            record = records[position + 1]
            if kind == "extra-cell":
                records[position + 1] = record[:-1] + ",extra\n"
            else:  # a stray quotation mark inside an unquoted cell
                cells = next(csv.reader([record]))
                index = frame.columns.get_loc(column)
                cells[index] = cells[index].replace('"', "").replace(",", " ").replace("\n", " ")
                cells[index] = cells[index][:3] + '"' + cells[index][3:]
                records[position + 1] = _join_unquoted(cells, index)
        text = "".join(records)
    path.write_text(text, encoding="utf-8", newline="")
    newlines = np.zeros(len(frame), dtype=np.int64)
    for name in frame.columns:
        newlines += frame[name].str.count("\n").to_numpy(dtype=np.int64)
    return 2 + np.arange(len(frame)) + np.concatenate([[0], np.cumsum(newlines)[:-1]])


def _split_records(text: str, frame) -> list[str]:
    """The header and each record's text (records may span lines)."""
    import io

    handle = io.StringIO(text, newline="")
    reader = csv.reader(handle)
    records, previous = [], 0
    lines = text.split("\n")
    for _ in reader:
        records.append("\n".join(lines[previous : reader.line_num]) + "\n")
        previous = reader.line_num
    return records


def _join_unquoted(cells: list[str], raw_index: int) -> str:
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    line = buffer.getvalue()
    # csv quotes the cell with the mark; undo that one cell's quoting to make the mark stray.
    quoted = '"' + cells[raw_index].replace('"', '""') + '"'
    return line.replace(quoted, cells[raw_index], 1)


def _licence_every_source(descriptor: dict, source_ids: list[str]) -> None:
    """The template's licence of its sources' terms names every synthetic copy of them."""
    for entry in [
        *descriptor.get("licenses", []),
        *(entry for r in descriptor["resources"] for entry in r.get("licenses", [])),
    ]:
        if isinstance(entry, dict) and entry.get("sourceIds"):
            entry["sourceIds"] = sorted(set(source_ids))
