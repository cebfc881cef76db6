"""Schema patterns, matched in linear time by RE2, so that no cell can stall validation.

Python's ``re`` backtracks: ``^(a+)+$`` on a long cell of ``a`` ending in ``b`` would
run for ages. RE2 (google-re2 per value; pyarrow's compute kernels, also RE2, per
column) never backtracks, so every pattern is matched in time linear in the cell.
A pattern RE2 cannot run (a backreference, a lookaround) is refused when the schema is
loaded (``unsafe-pattern``), before any engine sees it; frictionless, which compiles
patterns with ``re``, is handed RE2 instead while it validates (:func:`linear_patterns`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any


def _options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # a refused pattern is a finding, not a line on stderr
    return options


@lru_cache(maxsize=512)
def compile_linear(pattern: str) -> Any:
    """The RE2 program of ``pattern``; raises ValueError if RE2 cannot run it."""
    import re2

    if not isinstance(pattern, str):
        raise ValueError(f"a pattern must be a string, not {type(pattern).__name__}")
    try:
        return re2.compile(pattern, _options())
    except re2.error as error:
        message = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else error
        raise ValueError(str(message)) from None


def refusal(pattern: object) -> str | None:
    """Why ``pattern`` cannot be matched in linear time, or None when it can."""
    try:
        compile_linear(pattern)  # type: ignore[arg-type]
    except ValueError as error:
        return str(error)
    return None


def fullmatch(pattern: str, values: Any) -> Any:
    """For a pandas Series of strings: whether each value matches ``pattern`` whole (RE2, one pass per column)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values.dtype, pd.StringDtype):
        array = pa.array(values.array)  # the column's own Arrow data (or its strings): no Python object a cell
    else:
        array = pa.array(values.astype(object).where(values.notna(), None), type=pa.large_string())
    matched = pc.match_substring_regex(array, f"^(?:{pattern})$")
    flags = pd.arrays.BooleanArray(
        matched.fill_null(False).to_numpy(zero_copy_only=False), matched.is_null().to_numpy(zero_copy_only=False)
    )
    return pd.Series(flags, index=values.index)  # positions, not labels


class _AnchoredRe2:
    """What frictionless asks of ``re``: ``compile(pattern).match(cell)``, answered by RE2."""

    @staticmethod
    def compile(pattern: str, flags: int = 0) -> Any:
        return compile_linear(pattern)


@contextmanager
def linear_patterns() -> Iterator[None]:
    """While inside, frictionless compiles field patterns with RE2 instead of ``re``."""
    from frictionless.schema import field

    original = field.re
    field.re = _AnchoredRe2  # type: ignore[assignment]
    try:
        yield
    finally:
        field.re = original
