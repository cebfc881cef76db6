"""The field model derived from schemas/: pandas dtypes, vectorised parsing, the pandera schema."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uslatam.schema import FieldSpec, SchemaError, TableSpec, pandera_schema, parse_column

from .conftest import ROOT, uslatam

SCHEMA = {
    "fields": [
        {"name": "id", "type": "string", "constraints": {"required": True, "pattern": "[a-z]+"}},
        {"name": "count", "type": "integer", "constraints": {"minimum": 0}},
        {"name": "share", "type": "number"},
        {"name": "flag", "type": "boolean"},
        {"name": "day", "type": "date"},
        {"name": "kind", "type": "string", "constraints": {"enum": ["a", "b"]}},
    ],
    "primaryKey": ["id"],
    "missingValues": ["", "NA"],
}


def test_every_real_schema_derives_a_pandera_schema_with_every_column() -> None:
    descriptor = json.loads((ROOT / "datapackage.json").read_text())
    for resource in descriptor["resources"]:
        schema = json.loads((ROOT / resource["schema"]).read_text())
        spec = TableSpec.from_schema(resource["name"], schema)
        derived = pandera_schema(spec)
        assert list(derived.columns) == [f["name"] for f in schema["fields"]]
        for field in schema["fields"]:
            column = derived.columns[field["name"]]
            assert column.nullable == (not field.get("constraints", {}).get("required", False))


def test_parsing_is_typed_and_marks_bad_cells() -> None:
    spec = TableSpec.from_schema("t", SCHEMA)
    text = pd.Series(["1", "x", "", "NA", "-3"], dtype="string")
    parsed = parse_column(text, spec.field("count"), spec.missing_values)
    assert str(parsed.values.dtype) == "Int64"
    assert parsed.values.tolist()[0] == 1 and parsed.values.isna().tolist() == [False, True, True, True, False]
    assert parsed.bad.tolist() == [False, True, False, False, False]


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(st.one_of(st.none(), st.sampled_from(["", "NA", "a", " b ", "é", "NaN"])), max_size=12),
    missing=st.sampled_from([("",), ("", "NA"), ()]),
    chunked=st.booleans(),
)
def test_text_of_no_form_keeps_its_cells_and_only_its_missing_values_become_na(cells, missing, chunked) -> None:
    text = pd.Series(cells, dtype="string", index=pd.Index(range(2, 2 + len(cells)), name="line"))
    if chunked and len(cells) > 1:  # as pyarrow's reader gives a large table's column
        half, large = len(cells) // 2, pyarrow.large_string()
        halves = pyarrow.chunked_array([pyarrow.array(cells[:half], large), pyarrow.array(cells[half:], large)])
        text = pd.Series(pd.array(halves, dtype=pd.StringDtype("pyarrow")), index=text.index)
    parsed = parse_column(text, FieldSpec.from_descriptor({"name": "note", "type": "string"}), missing)
    assert parsed.values.dtype == pd.StringDtype("pyarrow") and parsed.values.index.equals(text.index)
    assert parsed.values.tolist() == [pd.NA if c is None or c in missing else c for c in cells]
    assert parsed.bad.dtype == bool and not parsed.bad.any() and parsed.bad.index.equals(text.index)


def test_boolean_text_false_is_false_not_true() -> None:
    spec = FieldSpec.from_descriptor({"name": "flag", "type": "boolean"})
    parsed = parse_column(pd.Series(["false", "true", "0", "yes"], dtype="string"), spec, ("",))
    assert parsed.values.tolist()[:3] == [False, True, False]
    assert parsed.bad.tolist() == [False, False, False, True]


def test_dates_are_validated_not_passed_through() -> None:
    spec = FieldSpec.from_descriptor({"name": "day", "type": "date"})
    parsed = parse_column(pd.Series(["2017-05-18", "2017-02-30", "18 May 2017"], dtype="string"), spec, ("",))
    assert parsed.bad.tolist() == [False, True, True]
    assert str(parsed.values.dtype).startswith("datetime64")


def test_the_derived_schema_reports_every_failure_lazily() -> None:
    spec = TableSpec.from_schema("t", SCHEMA)
    frame = pd.DataFrame(
        {
            "id": pd.array(["a", "a", "B"], dtype="string"),
            "count": pd.array([1, -1, 2], dtype="Int64"),
            "share": pd.array([0.5, None, 1.0], dtype="Float64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "day": pd.to_datetime(["2017-05-18", None, "2017-05-19"]).astype("datetime64[s]"),
            "kind": pd.array(["a", "c", "b"], dtype="string"),
        }
    )
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        pandera_schema(spec).validate(frame, lazy=True)
    checks = set(caught.value.failure_cases["check"].astype(str))
    assert "multiple_fields_uniqueness" in checks
    assert any(c.startswith("pattern") for c in checks)
    assert any(c.startswith("greater_than_or_equal_to") for c in checks)
    assert any(c.startswith("isin") for c in checks)


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(ValueError, match="year"):
        FieldSpec.from_descriptor({"name": "y", "type": "year"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labelField": "no_such_field"}, "labelField names 'no_such_field'"),
        ({"fullTextFields": "exact"}, "fullTextFields must be a list"),
        ({"fullTextFields": ["exact", "no_such_field"]}, r"fullTextFields names \['no_such_field'\]"),
    ],
)
def test_label_and_full_text_fields_must_name_fields(change: dict, message: str) -> None:
    schema = {**json.loads((ROOT / "schemas" / "spans.json").read_text()), **change}
    with pytest.raises(SchemaError, match=message):
        TableSpec.from_schema("spans", schema)


def test_an_export_of_an_unusable_schema_is_a_message(package_copy: Path, tmp_path: Path) -> None:
    schema_file = package_copy / "schemas" / "spans.json"
    schema_file.write_text(json.dumps({**json.loads(schema_file.read_text()), "labelField": "no_such_field"}))
    result = uslatam("export", "--format", "sqlite", str(tmp_path / "out.db"), "--package", str(package_copy))
    assert result.returncode == 1, result.stderr  # the package is invalid (exit 2 is for faults)
    assert "Traceback" not in result.stderr and "labelField names 'no_such_field'" in result.stderr
    assert not (tmp_path / "out.db").exists()
