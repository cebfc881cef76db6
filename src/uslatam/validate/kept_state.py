"""What a table rule gathers for the package rules, written as Arrow and read back as untrusted input.

A rule that fills ``ctx.gathered`` adds to it a nest of dicts, lists, tuples and sets of text and
numbers whose leaves may be numpy arrays, Arrow arrays, pandas frames, series and arrays, and spans as
columns (:class:`~.rules.support.SpanColumns`). :func:`encode` turns what one rule gathered of one
table into a JSON shape and a list of Arrow arrays (kept between runs by :mod:`.table_cache`),
:func:`decode` turns them back, and :func:`merge` adds it to the run's state as the rule would
have. Anything else cannot be kept: :func:`encode` raises TypeError, :func:`decode` ValueError
for anything it did not write, :func:`merge` ValueError for state a rule replaced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_NUMPY_KINDS = "biuf"  # booleans, integers and floats: what rules keep as numpy columns


def encode(value: Any) -> tuple[Any, list]:
    """(shape, arrays): ``value`` as JSON, its array leaves as Arrow arrays the shape names by position."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from .rules.support import SpanColumns

    arrays: list = []

    def put(array) -> int:
        arrays.append(array)
        return len(arrays) - 1

    def walk(item: Any) -> Any:
        if item is None or isinstance(item, (bool, str)) or type(item) in (int, float):
            return item
        if isinstance(item, dict):
            if not all(_scalar(k) for k in item):
                raise TypeError("a dict is kept only with text and integers as its keys")
            return {"dict": [[k, walk(v)] for k, v in item.items()]}
        if isinstance(item, list):
            return {"list": [walk(v) for v in item]}
        if isinstance(item, tuple):
            return {"tuple": [walk(v) for v in item]}
        if isinstance(item, (set, frozenset)):
            if not all(_scalar(v) for v in item):
                raise TypeError("a set is kept only of text and integers")
            return {"set": list(item)}
        if isinstance(item, np.ndarray):
            if item.ndim != 1 or item.dtype.kind not in _NUMPY_KINDS:
                raise TypeError(f"a numpy array of {item.dtype} ({item.ndim} dimensions) cannot be kept")
            return {"numpy": put(pa.array(item)), "dtype": item.dtype.str}
        if isinstance(item, pa.ChunkedArray):
            return {"chunked": put(item.combine_chunks())}
        if isinstance(item, pa.Array):
            return {"arrow": put(item)}
        if isinstance(item, pd.api.extensions.ExtensionArray):  # a column's values, as .unique() gives them
            return {"values": walk(pd.Series(item, copy=False))}
        if isinstance(item, pd.Series):
            return {"series": walk(item.to_frame(name="values")), "name": walk(item.name)}
        if isinstance(item, pd.DataFrame):
            if not all(isinstance(c, str) for c in item.columns) or item.columns.has_duplicates:
                raise TypeError("a frame is kept only with distinct text column names")
            table = pa.Table.from_pandas(item, preserve_index=True)
            return {
                "frame": put(
                    pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], names=table.column_names)
                ),
                "pandas": table.schema.metadata[b"pandas"].decode(),
                "dtypes": [str(d) for d in item.dtypes],
                "index": str(item.index.dtype),
            }
        if isinstance(item, SpanColumns):
            return {"spans": [walk(list(item.sources)), walk(item.codes), walk(item.starts), walk(item.ends)]}
        raise TypeError(f"a {type(item).__name__} cannot be kept between runs")

    shape = walk(value)
    json.dumps(shape)  # raises for what JSON cannot hold (a float that is not finite is held)
    return shape, arrays


def decode(shape: Any, arrays: list) -> Any:
    """What :func:`encode` was given, from its shape and arrays; ValueError for anything else."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from .rules.support import SpanColumns

    def array(index: Any) -> Any:
        if type(index) is not int or not 0 <= index < len(arrays):
            raise ValueError("the shape names an array that is not there")
        return arrays[index]

    def items(tagged: Any) -> list:
        if not isinstance(tagged, list):
            raise ValueError("a container's items are not a list")
        return tagged

    def walk(item: Any) -> Any:
        if item is None or isinstance(item, (bool, str)) or type(item) in (int, float):
            return item
        if not isinstance(item, dict) or not item:
            raise ValueError("not a shape this module writes")
        tag = next(iter(item))
        body = item[tag]
        if tag == "dict" and len(item) == 1:
            pairs = items(body)
            if not all(isinstance(p, list) and len(p) == 2 and _scalar(p[0]) for p in pairs):
                raise ValueError("a dict's entries are not pairs of a key and a value")
            return {k: walk(v) for k, v in pairs}
        if tag == "list" and len(item) == 1:
            return [walk(v) for v in items(body)]
        if tag == "tuple" and len(item) == 1:
            return tuple(walk(v) for v in items(body))
        if tag == "set" and len(item) == 1:
            if not all(_scalar(v) for v in items(body)):
                raise ValueError("a set holds something other than text and integers")
            return set(body)
        if tag == "numpy" and set(item) == {"numpy", "dtype"}:
            dtype = np.dtype(str(item["dtype"]))
            if dtype.kind not in _NUMPY_KINDS:
                raise ValueError(f"a numpy array of {dtype} is not kept")
            values = array(body).to_numpy(zero_copy_only=False)
            if values.dtype != dtype:
                raise ValueError("a numpy array is not of its recorded type")
            return values
        if tag in ("arrow", "chunked") and len(item) == 1:
            found = array(body)
            return pa.chunked_array([found], type=found.type) if tag == "chunked" else found
        if tag == "values" and len(item) == 1:
            series = walk(body)
            if not isinstance(series, pd.Series):
                raise ValueError("a column's values are not kept as a series")
            return series.array
        if tag == "series" and set(item) == {"series", "name"}:
            frame = walk(body)
            if not isinstance(frame, pd.DataFrame) or list(frame.columns) != ["values"]:
                raise ValueError("a series is not kept as a frame of its values")
            return frame["values"].rename(walk(item["name"]))
        if tag == "frame" and set(item) == {"frame", "pandas", "dtypes", "index"}:
            struct = array(body)
            if not pa.types.is_struct(struct.type) or struct.null_count:
                raise ValueError("a frame is not kept as a struct of its columns")
            names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
            table = pa.Table.from_arrays(struct.flatten(), names=names)
            table = table.replace_schema_metadata({b"pandas": str(item["pandas"]).encode()})
            frame = table.to_pandas()
            if [str(d) for d in frame.dtypes] != item["dtypes"] or str(frame.index.dtype) != item["index"]:
                raise ValueError("a frame is not of its recorded types")
            return frame
        if tag == "spans" and len(item) == 1:
            parts = items(body)
            if len(parts) != 4:
                raise ValueError("spans are kept as four parts")
            sources, codes, starts, ends = (walk(p) for p in parts)
            numbers = (codes, starts, ends)
            if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
                raise ValueError("the spans' sources are not text")
            if not all(isinstance(n, np.ndarray) and n.dtype.kind == "i" and len(n) == len(codes) for n in numbers):
                raise ValueError("the spans' columns are not integers of one length")
            if len(codes) and (codes.min() < -1 or codes.max() >= len(sources)):
                raise ValueError("a span names a source that is not there")
            return SpanColumns(sources, codes, starts, ends)
        raise ValueError(f"not a shape this module writes: {tag!r}")

    return walk(shape)


def _scalar(value: Any) -> bool:
    """What a set or a dict's keys are kept of: text, integers, truth values and None (JSON's own)."""
    return value is None or isinstance(value, (str, bool)) or type(value) is int


def merge(into: dict, gathered: dict, keeps: Mapping[str, type]) -> None:
    """Add what one rule gathered of one table to ``into``, as the rule adds to it: lists are
    appended to, dicts given entries. ValueError, before anything is added, for a key the rule does
    not declare (``keeps``: key -> list, dict or set), a value of another kind, or one it would replace."""
    for key, value in gathered.items():
        if key not in keeps or type(value) is not keeps[key]:
            raise ValueError(f"gathered[{key!r}] is not what the rule declares it adds ({dict(keeps)})")
    _mergeable(into, gathered)
    _merge(into, gathered)


def _mergeable(into: dict, gathered: dict) -> None:
    for key, value in gathered.items():
        if key not in into:
            continue
        if isinstance(into[key], list) and isinstance(value, list):
            continue
        if isinstance(into[key], dict) and isinstance(value, dict):
            _mergeable(into[key], value)
            continue
        raise ValueError(
            f"gathered[{key!r}] is replaced, not added to: a rule whose gathering is kept appends to "
            "lists and sets entries of dicts"
        )


def _merge(into: dict, gathered: dict) -> None:
    for key, value in gathered.items():
        if key not in into:
            into[key] = value
        elif isinstance(into[key], list) and isinstance(value, list):
            into[key].extend(value)
        else:
            _merge(into[key], value)


def to_columns(arrays: list):
    """The arrays as one Arrow table of one row: each array a list cell, so any lengths fit one file."""
    import pyarrow as pa

    columns = [pa.LargeListArray.from_arrays(pa.array([0, len(a)], type=pa.int64()), a) for a in arrays]
    return pa.Table.from_arrays(columns, names=[str(i) for i in range(len(columns))])


def from_columns(table) -> list:
    """The arrays :func:`to_columns` was given; ValueError for a table it did not make."""
    import pyarrow as pa

    if table.column_names != [str(i) for i in range(table.num_columns)] or (table.num_columns and table.num_rows != 1):
        raise ValueError("not the arrays of kept state")
    arrays = []
    for column in table.columns:
        cell = column.combine_chunks()
        if not pa.types.is_large_list(cell.type) or cell.null_count:
            raise ValueError("not the arrays of kept state")
        arrays.append(cell.flatten())
    return arrays
