"""What the rules read: the tables seen so far, lookups across them, and the Arrow helpers.

A rule reads its own table whole; of any other table it reads only the columns it
declares (``needs=`` of :func:`uslatam.validate.rules.rule`), and of the state below
(:data:`STATE`) only what it declares it reads or fills (``reads=``, ``writes=``). The
context holds the rule that is running and refuses an undeclared read
(:class:`UndeclaredColumn`, :class:`UndeclaredState`): the declarations decide what stays in
memory once a table is checked, and what a rule's kept findings are keyed by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..package import Package
from ..report import Finding
from ..schema import TableSpec, TypedTable

ENGINE = "rules"
# The context state a table rule reads or fills only by declaring it, and what of it a kept rule's
# key can hold (small, and settled when the rule runs).
STATE = ("texts", "broken_spans", "specs", "package", "baseline", "gathered")
KEPT_STATE = ("texts", "broken_spans", "specs", "baseline")  # the release: only its absence is keyed
KEPT_FILLED = ("gathered", "broken_spans")  # the state a kept rule may fill: what it adds is kept with its findings


class UndeclaredColumn(LookupError):
    """A rule read a column of another table that it does not declare: a defect of the rule, not of the data."""


class UndeclaredState(UndeclaredColumn):
    """A rule used context state it does not declare: a defect of the rule, not of the data."""


class _Undeclared:
    """Stands in, while a rule runs, for state it did not declare: any use of it fails at once."""

    def __init__(self, state: str, rule: str, verb: str) -> None:
        self._said = (
            f"rule {rule!r} {verb} ctx.{state} without declaring it: add {state!r} to "
            f"{'writes' if verb == 'fills' else 'reads'}= of its @rule"
        )

    def _refuse(self, *args: object, **kwargs: object):
        raise UndeclaredState(self._said)

    __getattr__ = __getitem__ = __setitem__ = __contains__ = __iter__ = __len__ = __bool__ = _refuse


class _ReadOnlySet(AbstractSet):
    """A set a rule reads but does not fill: no copy, and no ``add``."""

    def __init__(self, items: set) -> None:
        self._items = items

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Context:
    package: Package
    tables: dict[str, TypedTable]  # tables read so far: the current one whole, earlier ones cut to what rules need
    specs: dict[str, TableSpec] = field(default_factory=dict)  # every usable schema, readable table or not
    texts: dict[str, str] = field(default_factory=dict)  # source_id -> stored text, when intact
    broken_spans: set[str] = field(default_factory=set)  # spans whose offsets do not hold: skip, do not re-report
    baseline: Any = None  # the last release (uslatam.history.Snapshot), to check nothing vanished silently
    _positions: dict = field(default_factory=dict)  # (table, column, parent, key) -> positions, see positions()
    gathered: dict = field(default_factory=dict)  # what table rules keep of a whole table for package rules
    _running: tuple[str, str | None, Mapping[str, Sequence[str]]] | None = None  # (rule, own table, needs)
    _state: dict = field(default_factory=dict)  # the state a running table rule sees in its place
    keeping: Any = None  # (function, args) -> findings kept between runs (validate.table_cache), or None

    def kept(self, function: Callable[..., list[Finding]], *args: Any) -> list[Finding]:
        """``function(*args)``, or what it returned in an earlier run with the same arguments: for a
        rule's costly part that is a function of its arguments alone (module-level, reading no context)."""
        if self.keeping is None:
            return function(*args)
        return self.keeping(function, args)

    def running(
        self,
        rule: str,
        own: str | None,
        needs: Mapping[str, Sequence[str]],
        reads: Sequence[str] = (),
        writes: Sequence[str] = (),
    ) -> None:
        """From now on reads are checked against the declarations of ``rule`` checking table ``own``
        (a package rule, ``own`` None, reads state freely: it runs every time)."""
        if self._running is not None:
            raise RuntimeError(f"rule {rule!r} started while {self._running[0]!r} runs: rules do not nest")
        self._running = (rule, own, needs)
        if own is None:
            return
        for state in STATE:
            if state in writes:
                continue
            value = getattr(self, state)
            self._state[state] = value
            if state not in reads:
                setattr(self, state, _Undeclared(state, rule, "uses"))
            elif isinstance(value, dict):
                setattr(self, state, MappingProxyType(value))
            elif isinstance(value, set):
                setattr(self, state, _ReadOnlySet(value))

    def done(self) -> None:
        self._running = None
        for state, value in self._state.items():
            setattr(self, state, value)
        self._state = {}

    def _declared(self, table: str, columns: Sequence[str]) -> None:
        if self._running is None:
            return
        rule, own, needs = self._running
        if table == own:
            return  # a rule reads its own table whole
        undeclared = [c for c in columns if c not in needs.get(table, ())]
        if undeclared:
            raise UndeclaredColumn(
                f"rule {rule!r} reads {table}.{', '.join(undeclared)} without declaring it: "
                f"add it to needs= of its @rule (what stays in memory is derived from those declarations)"
            )

    def column(self, table: str, column: str):
        """The declared ``column`` of ``table``, every row read (None if the table is not readable)."""
        self._declared(table, (column,))
        typed = self.tables.get(table)
        if typed is None or column not in typed.frame.columns:
            return None
        return typed.frame[column]

    def rows(self, table: str, columns: Sequence[str]):
        """The declared ``columns`` of ``table``, every row read (None if the table is not readable)."""
        self._declared(table, columns)
        typed = self.tables.get(table)
        if typed is None or any(c not in typed.frame.columns for c in columns):
            return None
        return typed.frame[list(columns)]

    def positions(self, typed: TypedTable, column: str, parent: str, parent_key: str):
        """For each row of ``typed``, where in ``parent`` is the row its ``column`` names (null: none), or None.

        One pyarrow hash join per parent key and table: every column of ``typed`` that
        references the same key is looked up in the same call, and the answer is kept
        for the foreign key check and every rule that follows the reference.
        """
        import pyarrow.compute as pc

        self._declared(parent, (parent_key,))
        cache_key = (typed.spec.name, column, parent, parent_key)
        if cache_key not in self._positions:
            target = self.tables.get(parent)
            if target is None or parent_key not in target.frame.columns or column not in typed.frame.columns:
                return None
            columns = [
                key.fields[0]
                for key in typed.spec.foreign_keys
                if key.resource == parent
                and key.reference_fields == (parent_key,)
                and key.fields[0] in typed.frame.columns
            ]
            if column not in columns:
                columns.append(column)
            arrays = [arrow(typed.frame[c]) for c in columns]
            keys = arrow(target.frame[parent_key])
            arrays = [a.cast(keys.type) if a.type != keys.type else a for a in arrays]
            found = pc.index_in(end_to_end(arrays, keys.type), value_set=keys)
            offset = 0
            for name, array in zip(columns, arrays):
                self._positions[(typed.spec.name, name, parent, parent_key)] = found.slice(offset, len(array))
                offset += len(array)
        return self._positions[cache_key]

    def lookup(self, table: str, key: str, column: str, typed: TypedTable, reference: str):
        """``table.column`` of the row that ``typed.reference`` names, per row of ``typed`` (NA where none)."""
        taken = self._taken(table, key, column, typed, reference)
        if taken is None:
            return None
        result = taken.to_pandas(types_mapper=pandas_type)
        result.index = typed.frame.index
        return result

    def lookup_array(self, table: str, key: str, column: str, typed: TypedTable, reference: str):
        """:meth:`lookup` as an Arrow array (null where none), for rules that work on whole columns."""
        return self._taken(table, key, column, typed, reference)

    def lookup_values(self, table: str, key: str, column: str, typed: TypedTable, reference: str) -> list | None:
        """:meth:`lookup` as a Python list (None where none), for the rules that look at each row."""
        taken = self._taken(table, key, column, typed, reference)
        return None if taken is None else taken.to_pylist()

    def _taken(self, table: str, key: str, column: str, typed: TypedTable, reference: str):
        import pyarrow as pa
        import pyarrow.compute as pc

        self._declared(table, (key, column))
        target = self.tables.get(table)
        if target is None or column not in target.frame.columns:
            return None
        positions = self.positions(typed, reference, table, key)
        if positions is None:
            return None
        taken = pc.take(arrow(target.frame[column]), positions)
        if pa.types.is_dictionary(taken.type):
            taken = taken.cast(taken.type.value_type)
        return taken

    def forget(self, table: str) -> None:
        """Let go of the lookups made for ``table`` (once it is checked)."""
        self._positions = {k: v for k, v in self._positions.items() if k[0] != table}

    def finding(
        self,
        code: str,
        message: str,
        table: str,
        line: Any = None,
        column: str | None = None,
        value: Any = None,
        expected: Any = None,
    ) -> Finding:
        typed = self.tables.get(table)
        return Finding(
            code,
            message,
            table=table,
            file=typed.relpath if typed else None,
            line=int(line) if line is not None else None,
            column=column,
            value=None if value is None else str(value),
            expected=None if expected is None else str(expected),
            found_by=(ENGINE,),
        )


# --- Arrow and pandas helpers ------------------------------------------------------------


def arrow(series):
    """A column as a pyarrow array; text as large_string, so that every text column has one type."""
    import pyarrow as pa

    array = pa.array(series)
    if pa.types.is_string(array.type):
        return array.cast(pa.large_string())
    return array


def arrow_text(series):
    """A column as a large_string Arrow array whatever its dtype (a category column's, a number
    column's), so that text kernels take any column."""
    import pyarrow as pa

    array = arrow(series)
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


def iso_text(array):
    """An Arrow array of dates (or timestamps) as YYYY-MM-DD large_string text; text stays as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(array.type):
        try:
            array = pc.cast(array, pa.date32())  # an ISO date's text is Arrow's cast of a date: 6x faster than strftime
        except pa.ArrowInvalid:  # an Arrow whose safe cast refuses to drop a time of day (pyproject allows older ones)
            array = pc.strftime(array, "%Y-%m-%d")
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


def end_to_end(arrays, arrow_type):
    """Arrays (plain or chunked) of one type as one chunked array, their chunks as they are: one kernel
    call for all of them, no copy (a chunked array handed over as one chunk is converted a cell at a time)."""
    import pyarrow as pa

    return pa.chunked_array([chunk for array in arrays for chunk in getattr(array, "chunks", [array])], type=arrow_type)


def pandas_type(arrow_type):
    """The nullable pandas dtype for an Arrow type (for ``to_pandas(types_mapper=...)``)."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_large_string(arrow_type) or pa.types.is_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    return None


def is_missing(value) -> bool:
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def python_value(value):
    """A cell as a plain Python value, None for missing."""
    if is_missing(value):
        return None
    return value.item() if hasattr(value, "item") else value


def records(frame) -> Iterator[tuple[int, dict]]:
    """(line, row dict) for every row; NA becomes None. For small tables and the rows that failed."""
    columns = list(frame.columns)
    for line, values in zip(frame.index, frame.itertuples(index=False, name=None)):
        yield int(line), {c: (None if is_missing(v) else v) for c, v in zip(columns, values)}


def cell_values(series) -> list:
    """A column as a Python list with None for missing, for the loops that must look at each cell."""
    return arrow(series).to_pylist()


def each_row(index, *columns, size: int = 1 << 16) -> Iterator[tuple]:
    """(line, value, ...) per row, as Python values (None for missing), made a chunk at a time:
    a million rows never exist as Python objects all at once."""
    for start in range(0, len(index), size):
        stop = start + size
        yield from zip(index[start:stop].tolist(), *(cell_values(column.iloc[start:stop]) for column in columns))


# --- keys -----------------------------------------------------------------------------------


def as_text(series):
    """``series.astype("string")``, without the copy where it is one already (most key columns are)."""
    import pandas as pd

    wanted = pd.StringDtype()
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == wanted.storage and dtype.na_value is wanted.na_value:
        return series
    return series.astype(wanted)


def joined_cells(frame, fields, separator: str, missing: str | None = None):
    """The cells of ``fields`` as one string per row; a missing cell is ``missing`` (None: the row is missing)."""
    columns = [as_text(frame[f]) for f in fields]
    if missing is not None:
        columns = [column.fillna(missing) for column in columns]
    joined = columns[0]
    for column in columns[1:]:
        joined = joined + separator + column
    return joined


def row_keys(typed: TypedTable):
    """Each row's primary key as text (fields joined by '|', as releases record it)."""
    return joined_cells(typed.frame, typed.spec.primary_key, "|", missing="")


def isin(values, keys):
    """``values.isin(keys)`` as pyarrow hash lookups (pandas' isin on strings is far slower).

    The smaller side is hashed: a few retracted IDs against a million keys hash the IDs
    and probe with the keys, instead of hashing the million keys again.
    """
    import numpy as np
    import pyarrow.compute as pc

    values_array, keys_array = arrow(values), arrow(keys)
    if len(values_array) * 4 >= len(keys_array):
        return pc.is_in(values_array, value_set=keys_array).to_numpy(zero_copy_only=False)
    first = pc.index_in(values_array, value_set=values_array).to_numpy(zero_copy_only=False)  # equal values alike
    matched = pc.index_in(keys_array, value_set=values_array).drop_null().to_numpy(zero_copy_only=False)
    hit = np.zeros(len(values_array), dtype=bool)
    hit[matched] = True
    return hit[np.nan_to_num(first, nan=0).astype(np.int64)] & ~np.isnan(first.astype(float))
