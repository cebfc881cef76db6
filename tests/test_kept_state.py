"""What rules gather, kept between runs: written and read back as it was, anything else refused, and
added to the run's state as the rule adds it (tests/test_table_cache.py: kept and taken in a run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uslatam.validate import kept_state
from uslatam.validate.rules.support import SpanColumns


def _round_trip(value):
    shape, arrays = kept_state.encode(value)
    return kept_state.decode(shape, kept_state.from_columns(kept_state.to_columns(arrays)))


def _same(left, right) -> None:
    """Equal as what they are: containers item by item, arrays and frames with their types."""
    assert type(left) is type(right), (left, right)
    if isinstance(left, dict):
        assert list(left) == list(right)
        for key in left:
            _same(left[key], right[key])
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right)
        for one, other in zip(left, right):
            _same(one, other)
    elif isinstance(left, np.ndarray):
        assert left.dtype == right.dtype and np.array_equal(left, right, equal_nan=left.dtype.kind == "f")
    elif isinstance(left, (pa.Array, pa.ChunkedArray)):
        assert left.type == right.type and left.equals(right)
    elif isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right)
    elif isinstance(left, pd.Series):
        pd.testing.assert_series_equal(left, right)
    elif isinstance(left, pd.api.extensions.ExtensionArray):
        pd.testing.assert_extension_array_equal(left, right)
    elif isinstance(left, SpanColumns):
        assert left.sources == right.sources
        for name in ("codes", "starts", "ends"):
            _same(getattr(left, name), getattr(right, name))
    else:
        assert left == right


_TEXT = st.text(max_size=8)
_NUMPY = st.sampled_from([np.bool_, np.int8, np.int32, np.int64, np.float64]).flatmap(
    lambda dtype: st.lists(st.integers(-100, 100), max_size=20).map(lambda v: np.array(v).astype(dtype))
)
_ARROW = st.one_of(
    st.lists(st.none() | _TEXT, max_size=20).map(lambda v: pa.array(v, type=pa.large_string())),
    st.lists(st.none() | st.sampled_from(["Colombia", "Mexico", "US"]), max_size=20).map(
        lambda v: pa.array(v, type=pa.large_string()).dictionary_encode()
    ),
    st.lists(st.none() | st.integers(-(2**40), 2**40), max_size=20).map(lambda v: pa.array(v, type=pa.int64())),
    st.lists(_TEXT, max_size=20).map(lambda v: pa.chunked_array([v[:3], v[3:]], type=pa.string())),
)


@st.composite
def _frames(draw):
    rows = draw(st.integers(0, 12))
    lines = draw(st.lists(st.integers(2, 10_000), min_size=rows, max_size=rows, unique=True))
    frame = pd.DataFrame(
        {
            "id": pd.array(draw(st.lists(st.none() | _TEXT, min_size=rows, max_size=rows)), dtype="string"),
            "count": pd.array(draw(st.lists(st.none() | st.integers(-5, 5), min_size=rows, max_size=rows)), "Int64"),
            "table": pd.Series(draw(st.lists(st.sampled_from(["events", "claims"]), min_size=rows, max_size=rows)))
            .astype("category")
            .to_numpy(),
        },
        index=pd.Index(lines, dtype="int64"),
    )
    frame["table"] = frame["table"].astype("category")
    return frame


@st.composite
def _spans(draw):
    sources = draw(st.lists(_TEXT, max_size=4, unique=True))
    rows = draw(st.integers(0, 12))
    codes = np.array(draw(st.lists(st.integers(-1, len(sources) - 1), min_size=rows, max_size=rows)), dtype=np.int32)
    offsets = st.lists(st.integers(0, 5000), min_size=rows, max_size=rows).map(lambda v: np.array(v, np.int64))
    return SpanColumns(sources, codes, draw(offsets), draw(offsets))


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    _TEXT,
    _NUMPY,
    _ARROW,
    _frames(),
    _frames().map(lambda f: f["id"].rename("keys")),
    _frames().map(lambda f: f["id"].dropna().unique()),
    _spans(),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(_TEXT, inner, max_size=4),
        st.sets(_TEXT, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, max_size=4))
def test_what_is_gathered_reads_back_as_it_was_written(gathered: dict) -> None:
    _same(_round_trip(gathered), gathered)


@pytest.mark.parametrize(
    "value",
    [object(), np.array([["a"]]), np.array(["text"], dtype=object), {frozenset([1]): 1}, {"x": {1.5}}],
    ids=["object", "2-d", "numpy text", "set key", "set of floats"],
)
def test_what_cannot_be_kept_is_refused_when_written(value) -> None:
    with pytest.raises(TypeError):
        kept_state.encode(value)


def _written() -> tuple[object, list]:
    return kept_state.encode(
        {"spans": [SpanColumns(["a"], np.array([0, -1]), np.array([1, 2]), np.array([3, 4]))], "n": np.array([1])}
    )


@pytest.mark.parametrize(
    "damage",
    ["unknown tag", "array not there", "numpy of objects", "numpy of another type", "span source not there", "list"],
)
def test_a_shape_it_did_not_write_is_refused_when_read(damage: str) -> None:
    shape, arrays = _written()
    spans = shape["dict"][0][1]["list"][0]["spans"]
    if damage == "unknown tag":
        shape = {"pickle": 0}
    elif damage == "array not there":
        shape["dict"][1][1]["numpy"] = len(arrays)
    elif damage == "numpy of objects":
        shape["dict"][1][1]["dtype"] = "|O"
    elif damage == "numpy of another type":
        shape["dict"][1][1]["dtype"] = "<f8"
    elif damage == "span source not there":
        spans[0] = {"list": []}
    elif damage == "list":
        shape = [shape]
    with pytest.raises(ValueError):
        kept_state.decode(shape, arrays)


def test_kept_state_is_added_as_the_rule_adds_it() -> None:
    keeps = {"mentions": list, "dated": dict, "keys": dict}
    state: dict = {"mentions": [1], "dated": {"events": 1}}
    kept_state.merge(state, {"mentions": [2], "dated": {"claims": 2}, "keys": {"claims": 3}}, keeps)
    assert state == {"mentions": [1, 2], "dated": {"events": 1, "claims": 2}, "keys": {"claims": 3}}
    with pytest.raises(ValueError, match="replaced"):
        kept_state.merge(state, {"mentions": [3], "dated": {"events": 4}}, keeps)
    with pytest.raises(ValueError, match="declares"):
        kept_state.merge(state, {"mentions": [3], "keys": [4]}, keeps)  # a list where a dict is declared
    with pytest.raises(ValueError, match="declares"):
        kept_state.merge(state, {"mentions": [3], "named": []}, keeps)  # a key the rule does not declare
    assert state["mentions"] == [1, 2]  # nothing added before a refusal


def test_a_rule_that_gathers_declares_what_it_adds() -> None:
    from uslatam.validate import rules

    with pytest.raises(ValueError, match="keeps"):
        rules.rule("x", writes=("gathered",))
    with pytest.raises(ValueError, match="keeps"):
        rules.gather(keeps={"keys": tuple})
