"""Fuzzing the readers of untrusted input with hypothesis over raw bytes and text.

No input may raise anything but the project's own clear errors, or take over a second of CPU time.
CI runs a short campaign; HYPOTHESIS_PROFILE=fuzz runs 20,000 examples per target.
"""

from __future__ import annotations

import shutil
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from uslatam.codes import CATALOGUE
from uslatam.csvio import check_shape, read_table
from uslatam.package import DEFAULT_LIMITS, UnsafeYaml, load_json, load_yaml
from uslatam.rows import AddError, read_input
from uslatam.validate import validate

from .conftest import FIXTURES, record

CPU_SECOND = 1.0  # CPU time of this process: wall time would fail on a busy machine
CSV_PIECES = st.lists(
    st.sampled_from(
        ['"', '""', ",", "\n", "\r\n", "\r", "a", "é", "\x00", "\ufeff", " ", "1", "source_id", "\u202e", "\xff"]
    ),
    max_size=60,
).map("".join)
CSV_BYTES = st.one_of(st.binary(max_size=400), CSV_PIECES.map(lambda s: s.encode("utf-8", "surrogatepass")))
JSON_TEXT = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            ["{", "}", "[", "]", '"a"', ":", ",", "1", "1e999", '"name"', "null", '"\\ud800"', " ", "9" * 30]
        ),
        max_size=50,
    ).map(lambda parts: "".join(parts).encode()),
)


def _timed(function, *args):
    started = time.process_time()
    result = function(*args)
    cpu_seconds = time.process_time() - started
    assert cpu_seconds < CPU_SECOND, f"{cpu_seconds:.2f} s of CPU"
    return result


@given(data=CSV_BYTES)
def test_csv_reader_never_crashes(tmp_path_factory, data: bytes) -> None:
    file = tmp_path_factory.mktemp("fuzz") / "t.csv"
    file.write_bytes(data)
    raw = _timed(lambda: read_table(file, table="t", relpath="t.csv", max_cell_chars=1000, max_columns=50))
    if raw.readable:
        findings = check_shape(raw, ["source_id", "author_order"], table="t", relpath="t.csv")
        assert all(f.code in CATALOGUE for f in findings)
    assert all(f.code in CATALOGUE for f in raw.findings)
    record("fuzz", target="csv-reader")


@given(data=JSON_TEXT)
def test_descriptor_reader_never_crashes(tmp_path_factory, data: bytes) -> None:
    file = tmp_path_factory.mktemp("fuzz") / "datapackage.json"
    file.write_bytes(data)
    _, findings = _timed(lambda: load_json(file, limits=DEFAULT_LIMITS, file="datapackage.json"))
    assert all(f.code in CATALOGUE for f in findings)
    record("fuzz", target="descriptor-reader")


@given(text=st.text(max_size=300))
def test_yaml_reader_never_crashes(text: str) -> None:
    try:
        _timed(load_yaml, text)
    except UnsafeYaml:
        pass
    record("fuzz", target="yaml-reader")


@given(text=st.one_of(st.text(max_size=300), CSV_PIECES), fmt=st.sampled_from(["csv", "yaml", "json"]))
def test_add_input_reader_never_crashes(text: str, fmt: str) -> None:
    try:
        _timed(lambda: read_input(text, name="in", fmt=fmt, table="quotes"))
    except AddError as error:
        assert error.problems
    record("fuzz", target="add-input-reader")


@settings(max_examples=15)
@given(data=CSV_BYTES)
def test_whole_validation_of_a_fuzzed_table_never_crashes(tmp_path_factory, data: bytes) -> None:
    package = tmp_path_factory.mktemp("fuzz") / "package"
    shutil.copytree(FIXTURES / "clean", package)
    (package / "data" / "source_authors.csv").write_bytes(data)
    report = validate(package, against=False, engines=("pandera",))
    assert not report.valid or data == (FIXTURES / "clean" / "data" / "source_authors.csv").read_bytes()
    assert all(f.code in CATALOGUE for f in report.findings)
    record("fuzz", target="validate")
