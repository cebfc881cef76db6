"""The field model read from ``schemas/``: everything else about columns derives from it.

One adapter turns a Table Schema into a vectorised parser, pandas dtypes and a
pandera schema. Nothing here restates a column: it all comes from the JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .patterns import fullmatch

SUPPORTED_TYPES = ("string", "integer", "number", "boolean", "date")
PANDAS_DTYPES = {
    "string": "string",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
    "date": "datetime64[s]",
}
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")
_INTEGER = r"[+-]?[0-9]+"
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|INF|-INF"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_URI = r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s]+"


# "tableRole": what a table's rows are, which tells the tools how the table grows and is sampled.
TABLE_ROLES = {
    "source": "rows describing the source documents (one set per source)",
    "fact": "facts and the evidence spans they cite: the bulk of the package",
    "codelist": "codes the schemas' enums must equal, the same in every package",
    "log": "records about other tables' rows (retractions)",
}


class SchemaError(ValueError):
    """A Table Schema uses something this project's validator does not enforce."""


# A condition of requiredWhen / emptyWhen on another field: its codes, "*" (any value) or None (empty).
Condition = tuple[str, ...] | str | None


def _names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SchemaError(f"expected a field name or a list of field names, not {value!r}")


def _conditions(value: object) -> dict[str, Condition] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SchemaError(f"expected an object of field: codes, not {value!r}")
    conditions: dict[str, Condition] = {}
    for name, codes in value.items():
        if codes is None or codes == "*":
            conditions[name] = codes
        elif isinstance(codes, list) and all(isinstance(c, str) for c in codes):
            conditions[name] = tuple(codes)
        else:
            raise SchemaError(f'condition on {name!r} must be a list of codes, "*" or null, not {codes!r}')
    return conditions


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    format: str = "default"
    description: str = ""
    example: Any = None
    vocabulary: str | None = None
    required: bool = False
    unique: bool = False
    enum: tuple | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE
    # Project properties (ignored by frictionless, enforced by uslatam.validate.rules):
    precision_field: str | None = None  # "precisionField": the field giving this date's precision
    not_before: str | None = None  # "notBefore": a date field this one may not precede
    codelist: str | None = None  # "codelist": an external code list, e.g. "ISO 3166-1 alpha-3"
    entity_types: tuple[str, ...] | None = None  # "entityTypes": allowed types of the referenced entity
    multiline: bool = False  # "multiline": line ends allowed in the text
    keeps_whitespace: bool = False  # "keepsWhitespace": the cell may start or end with whitespace
    # Support properties (enforced by uslatam.validate.rules.support):
    mentioned_in: tuple[str, ...] = ()  # "mentionedIn": span fields one of which holds a mention of the entity
    as_written_in: tuple[str, ...] = ()  # "asWrittenIn": span fields one of which holds the value verbatim
    required_when: dict[str, Condition] | None = None  # "requiredWhen": {field: [codes] | "*"}
    empty_when: dict[str, Condition] | None = None  # "emptyWhen": {field: [codes] | null}
    basis_field: str | None = None  # "basisField": the field saying how this date follows from the text
    date_span_field: str | None = None  # "dateSpanField": the span holding this date's words
    inherits_from: str | None = None  # "inheritsFrom": the reference whose row's date this one may inherit
    id_date_field: str | None = None  # "idDateField": the date a date embedded in this ID must agree with
    value_text: str | None = None  # "valueText": the field holding the words this number is read from
    admits_type_of: str | None = None  # "admitsTypeOf": the entity reference whose type the code must admit
    reference_table_field: str | None = None  # "referenceTableField": the field naming the table this ID is a key of
    not_below: str | None = None  # "notBelow": an integer field this one may not be less than
    publication_date: bool = False  # "publicationDate": the source's date of publication

    @classmethod
    def from_descriptor(cls, descriptor: dict) -> FieldSpec:
        type_ = descriptor.get("type", "string")
        if type_ not in SUPPORTED_TYPES:
            raise SchemaError(
                f"field {descriptor.get('name')!r} has type {type_!r}; supported: {', '.join(SUPPORTED_TYPES)}"
            )
        constraints = descriptor.get("constraints") or {}
        enum = constraints.get("enum")
        return cls(
            name=descriptor["name"],
            type=type_,
            format=descriptor.get("format", "default"),
            description=descriptor.get("description", ""),
            example=descriptor.get("example"),
            vocabulary=descriptor.get("vocabulary"),
            required=bool(constraints.get("required", False)),
            unique=bool(constraints.get("unique", False)),
            enum=tuple(enum) if enum is not None else None,
            pattern=constraints.get("pattern"),
            minimum=constraints.get("minimum"),
            maximum=constraints.get("maximum"),
            min_length=constraints.get("minLength"),
            max_length=constraints.get("maxLength"),
            true_values=tuple(descriptor.get("trueValues", DEFAULT_TRUE)),
            false_values=tuple(descriptor.get("falseValues", DEFAULT_FALSE)),
            precision_field=descriptor.get("precisionField"),
            not_before=descriptor.get("notBefore"),
            codelist=descriptor.get("codelist"),
            entity_types=tuple(descriptor["entityTypes"]) if "entityTypes" in descriptor else None,
            multiline=bool(descriptor.get("multiline", False)),
            keeps_whitespace=bool(descriptor.get("keepsWhitespace", False)),
            mentioned_in=_names(descriptor.get("mentionedIn")),
            as_written_in=_names(descriptor.get("asWrittenIn")),
            required_when=_conditions(descriptor.get("requiredWhen")),
            empty_when=_conditions(descriptor.get("emptyWhen")),
            basis_field=descriptor.get("basisField"),
            date_span_field=descriptor.get("dateSpanField"),
            inherits_from=descriptor.get("inheritsFrom"),
            id_date_field=descriptor.get("idDateField"),
            value_text=descriptor.get("valueText"),
            admits_type_of=descriptor.get("admitsTypeOf"),
            reference_table_field=descriptor.get("referenceTableField"),
            not_below=descriptor.get("notBelow"),
            publication_date=descriptor.get("publicationDate") is True,
        )

    def fields_named(self) -> dict[str, tuple[str, ...]]:
        """Every support property that names other fields of the same table: property -> field names."""
        single = {
            "basisField": self.basis_field,
            "dateSpanField": self.date_span_field,
            "inheritsFrom": self.inherits_from,
            "idDateField": self.id_date_field,
            "valueText": self.value_text,
            "admitsTypeOf": self.admits_type_of,
            "referenceTableField": self.reference_table_field,
            "notBelow": self.not_below,
        }
        named: dict[str, tuple[str, ...]] = {key: (value,) for key, value in single.items() if value is not None}
        if self.mentioned_in:
            named["mentionedIn"] = self.mentioned_in
        if self.as_written_in:
            named["asWrittenIn"] = self.as_written_in
        for key, conditions in (("requiredWhen", self.required_when), ("emptyWhen", self.empty_when)):
            if conditions:
                named[key] = tuple(conditions)
        return named

    @property
    def pattern_described(self) -> str:
        """The pattern as a finding states it: with the schema's example, so that a reader sees the form."""
        return f"pattern {self.pattern}" + (f" (e.g. {self.example!r})" if self.example not in (None, "") else "")

    @property
    def pandas_dtype(self) -> str:
        return PANDAS_DTYPES[self.type]

    @property
    def lexical_pattern(self) -> str | None:
        """The form a cell's text must have to be of this field's type."""
        if self.type == "integer":
            return _INTEGER
        if self.type == "number":
            return _NUMBER
        if self.type == "date":
            return _DATE
        if self.type == "string" and self.format == "uri":
            return _URI
        return None


@dataclass(frozen=True)
class ForeignKey:
    fields: tuple[str, ...]
    resource: str
    reference_fields: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    name: str
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    missing_values: tuple[str, ...] = ("",)
    mentions: bool = False  # "mentions": true: the rows say where the sources name or refer to entities
    coverage: str = "cites"  # "coverage": what its spans mean to coverage: cites, names or excludes
    order: tuple[str, ...] = ()  # "rowOrder": the fields rows are sorted by (default: the primary key)
    role: str | None = None  # "tableRole": one of TABLE_ROLES
    label: str | None = None  # "labelField": the field that names a row where another table refers to it
    full_text: tuple[str, ...] = ()  # "fullTextFields": the fields a full-text index covers in exports

    @classmethod
    def from_schema(cls, name: str, schema: dict) -> TableSpec:
        fields = tuple(FieldSpec.from_descriptor(f) for f in schema.get("fields", []))
        primary_key = schema.get("primaryKey") or ()
        if isinstance(primary_key, str):
            primary_key = (primary_key,)
        foreign_keys = []
        for key in schema.get("foreignKeys") or ():
            own = key["fields"]
            reference = key["reference"]
            theirs = reference["fields"]
            foreign_keys.append(
                ForeignKey(
                    fields=(own,) if isinstance(own, str) else tuple(own),
                    resource=reference.get("resource") or name,
                    reference_fields=(theirs,) if isinstance(theirs, str) else tuple(theirs),
                )
            )
        names = {f.name for f in fields}
        order = schema.get("rowOrder", primary_key)
        order = (order,) if isinstance(order, str) else tuple(order)
        unknown = [f for f in order if f not in names]
        if unknown:
            raise SchemaError(f"rowOrder names {unknown}, which are not fields")
        role = schema.get("tableRole")
        if role is not None and role not in TABLE_ROLES:
            raise SchemaError(f"tableRole {role!r} is not one of {', '.join(TABLE_ROLES)}")
        label = schema.get("labelField")
        if label is not None and label not in names:
            raise SchemaError(f"labelField names {label!r}, which is not a field")
        full_text = schema.get("fullTextFields", [])
        if not isinstance(full_text, list):
            raise SchemaError(f"fullTextFields must be a list of field names, not {full_text!r}")
        unknown = [f for f in full_text if f not in names]
        if unknown:
            raise SchemaError(f"fullTextFields names {unknown}, which are not fields")
        return cls(
            name=name,
            fields=fields,
            primary_key=tuple(primary_key),
            foreign_keys=tuple(foreign_keys),
            missing_values=tuple(schema.get("missingValues", [""])),
            mentions=schema.get("mentions") is True,
            coverage=schema.get("coverage", "cites"),
            order=tuple(f for f in order if f in names),
            role=role,
            label=label,
            full_text=tuple(full_text),
        )

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    def pandas_dtypes(self) -> dict[str, str]:
        return {f.name: f.pandas_dtype for f in self.fields}

    def order_key(self) -> Callable[[Mapping[str, str]], tuple]:
        """The sort key of a row of cell texts in the schema's row order: integers by value, other text as text.

        A cell of an integer field that is not an integer sorts after every integer.
        """
        integer = {f.name for f in self.fields if f.type == "integer"}
        order = self.order

        def typed(name: str, value: str) -> tuple:
            if name in integer:
                try:
                    return (0, int(value), "")
                except ValueError:
                    return (1, 0, value)
            return (0, 0, value)

        return lambda row: tuple(typed(name, row.get(name) or "") for name in order)

    def references(self, resource: str) -> list[str]:
        """The fields that each reference ``resource`` on their own (single-field foreign keys)."""
        return [key.fields[0] for key in self.foreign_keys if key.resource == resource and len(key.fields) == 1]


@dataclass
class ParsedColumn:
    values: Any  # pandas Series of the field's dtype, NA where missing or unparsable
    bad: Any  # boolean Series: the cell has text that is not of the field's type


def parse_column(text, spec: FieldSpec, missing_values: tuple[str, ...]) -> ParsedColumn:
    """Parse a column of cell texts to the field's dtype, all cells at once.

    Cells whose text is not of the type become NA and are flagged in ``bad``, so
    pandera never sees a mixed column (its row-by-row fallback is very slow).
    """
    import pandas as pd

    if spec.type == "string" and spec.lexical_pattern is None:
        return _plain_text(text, missing_values)
    text = text.astype("string")
    missing = text.isna() | text.isin(list(missing_values))
    # Masks copy a column: skip them when nothing is missing or bad (most key columns).
    present = text.mask(missing) if missing.any() else text
    lexical = spec.lexical_pattern
    bad = pd.Series(False, index=text.index)
    if lexical is not None:
        bad = ~missing & ~present.str.fullmatch(lexical).fillna(False).astype(bool)
    usable = present.mask(bad) if bad.any() else present
    if spec.type == "string":
        values = usable.astype("string")
    elif spec.type == "integer":
        values = _cast(usable, "int64", "Int64")
    elif spec.type == "number":
        replaced = usable.replace({"INF": "inf", "-INF": "-inf"}) if usable.isin(["INF", "-INF"]).any() else usable
        values = _cast(replaced, "float64", "Float64")
    elif spec.type == "boolean":
        truthy = usable.isin(list(spec.true_values))
        falsy = usable.isin(list(spec.false_values))
        bad = bad | (~missing & ~truthy & ~falsy)
        values = pd.Series(pd.NA, index=text.index, dtype="boolean")
        values[truthy.fillna(False).astype(bool)] = True
        values[falsy.fillna(False).astype(bool)] = False
    elif spec.type == "date":
        parsed = pd.to_datetime(usable, format="%Y-%m-%d", errors="coerce")
        bad = bad | (~missing & ~bad & parsed.isna())
        values = parsed.astype("datetime64[s]")
    else:  # pragma: no cover - from_descriptor refuses other types
        raise SchemaError(spec.type)
    return ParsedColumn(values=values, bad=bad.astype(bool))


def text_array(cells):
    """Python strings (None: missing) as a pandas text column's array, made in Arrow at once
    (pandas' frame of rows made each column through Python objects again)."""
    import pandas as pd
    import pyarrow as pa

    return pd.arrays.ArrowStringArray(pa.array(cells, type=pa.large_string()))


def _plain_text(text, missing_values: tuple[str, ...]) -> ParsedColumn:
    """A text column of no particular form: its missing values made NA, nothing bad. In pyarrow, on the
    column's own buffers: a sixth of the pandas calls' cost, which was most of a small table's parse."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = pa.array(text if isinstance(text.dtype, pd.StringDtype) else text.astype("string"))
    if cells.type != pa.large_string():
        cells = cells.cast(pa.large_string())
    missing = pc.is_in(cells, value_set=pa.array(list(missing_values), type=cells.type))
    if pc.any(missing).as_py():
        cells = pc.if_else(missing, pa.scalar(None, cells.type), cells)
    values = pd.Series(pd.arrays.ArrowStringArray(cells), index=text.index, copy=False)
    return ParsedColumn(values=values, bad=pd.Series(np.zeros(len(text), dtype=bool), index=text.index))


def _cast(text, arrow_type: str, pandas_dtype: str):
    """Text already matched against the type's lexical form, cast in pyarrow (pandas' to_numeric
    goes through Python objects); a value out of range (an integer over 64 bits) falls back to NA."""
    import pandas as pd
    import pyarrow as pa

    try:
        array = pa.array(text, type=pa.large_string()).cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(text, errors="coerce").astype(pandas_dtype)
    return pd.Series(array.to_numpy(zero_copy_only=False), index=text.index).astype(pandas_dtype).mask(text.isna())


@functools.cache
def _whole_column_dtype(name: str):
    """The pandera dtype of a column: one judgement of the whole column's dtype. pandera's own string dtype
    answers a cell at a time when it matches, and pandera then builds (empty) failure cases and a message with
    a table's repr for every passing string column; the answer a column is the same and costs nothing."""
    from pandera.engines import pandas_engine

    dtype = pandas_engine.Engine.dtype(name)
    if not isinstance(dtype, pandas_engine.STRING):
        return dtype

    class WholeColumnString(type(dtype)):  # type: ignore[misc,valid-type]
        def check(self, pandera_dtype, data_container=None):
            return super().check(pandera_dtype)  # without the cells: True or False for the column

    return WholeColumnString(dtype.storage)


EMPTY_PRIMARY_KEY = "primary_key_empty"  # the name of the pandera check of rows without a key


def _has_key(frame, key: list[str]):
    """Per row, whether any cell of the primary key is there (a column at a time: selecting the
    key's columns as a frame cost more than the test)."""
    empty = frame[key[0]].isna()
    for column in key[1:]:
        empty &= frame[column].isna()
    return ~empty


def pandera_schema(table: TableSpec):
    """The pandera DataFrameSchema of a table: types, nullability, constraints, keys."""
    import pandera.pandas as pa

    columns = {}
    for spec in table.fields:
        checks = []
        if spec.enum is not None:
            checks.append(pa.Check.isin(list(spec.enum), name="enum"))
        if spec.pattern is not None:
            checks.append(
                pa.Check(
                    lambda s, pattern=spec.pattern: fullmatch(pattern, s).fillna(True),  # RE2: linear time
                    element_wise=False,
                    name="pattern",
                    error=f"pattern {spec.pattern}",
                    ignore_na=False,  # the test passes a missing cell itself: no copy of the column without them
                )
            )
        if spec.minimum is not None:
            checks.append(pa.Check.ge(spec.minimum, name="minimum"))
        if spec.maximum is not None:
            checks.append(pa.Check.le(spec.maximum, name="maximum"))
        if spec.min_length is not None or spec.max_length is not None:
            checks.append(pa.Check.str_length(spec.min_length, spec.max_length, name="length"))
        columns[spec.name] = pa.Column(
            _whole_column_dtype(spec.pandas_dtype),
            checks=checks,
            nullable=not spec.required,
            unique=spec.unique,
            report_duplicates="exclude_first",
            required=True,
        )
    key = list(table.primary_key)
    whole_rows = []
    if key:
        # a row whose key cells are all empty has no key: a finding of its own, as frictionless reports it
        whole_rows.append(pa.Check(functools.partial(_has_key, key=key), name=EMPTY_PRIMARY_KEY, ignore_na=False))
    return pa.DataFrameSchema(
        columns,
        checks=whole_rows,
        name=table.name,
        unique=key or None,
        report_duplicates="exclude_first",
        coerce=False,
        strict=False,
    )


@dataclass
class TypedTable:
    """A table parsed to its schema's dtypes, indexed by the physical line of each record."""

    spec: TableSpec
    relpath: str
    frame: Any  # pandas DataFrame
    text: Any = None  # the cells as read, a DataFrame of strings with the same index
    record_lines: list[int] = field(default_factory=list)  # start line of every record, blank ones too
    blank_lines: set[int] = field(default_factory=set)
    padded_cells: set[tuple[int, str]] = field(default_factory=set)  # (line, column) absent from the file
    bad_cells: dict[str, Any] = field(default_factory=dict)
    plain_text: bool = False  # proven from the bytes: no cell holds a line end or an invisible character

    @property
    def row_count(self) -> int:
        return len(self.frame)
