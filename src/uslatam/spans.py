"""Evidence spans: find words in a source text and describe where they stand.

Offsets are half-open and counted in Unicode code points, so ``text[start:end]``
is the span's exact words (W3C TextPositionSelector); ``prefix`` and ``suffix``
are the words just around it (W3C TextQuoteSelector), kept so that a span can be
re-anchored if offsets ever drift.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

CONTEXT_WIDTH = 32
"""Code points of prefix and suffix stored with each span (fewer at the text's edges)."""


class SpanError(ValueError):
    """The words cannot be located unambiguously; the message says why."""


@dataclass(frozen=True)
class Located:
    start: int
    end: int
    exact: str
    prefix: str
    suffix: str


def occurrences(text: str, exact: str) -> list[int]:
    """Start offsets of every (possibly overlapping) occurrence of ``exact``."""
    if not exact:
        raise SpanError("the evidence words are empty")
    found, at = [], text.find(exact)
    while at != -1:
        found.append(at)
        at = text.find(exact, at + 1)
    return found


def context(text: str, start: int, end: int, width: int = CONTEXT_WIDTH) -> tuple[str, str]:
    """The prefix and suffix stored for the span ``text[start:end]``."""
    return text[max(0, start - width) : start], text[end : end + width]


def closest_passage(text: str, exact: str) -> str:
    """The passage of ``text`` most like ``exact``, to show when it is not found."""
    if not exact or not text:
        return ""
    # Anchor on the longest run the two share, and show the text's words around it.
    match = difflib.SequenceMatcher(None, text, exact, autojunk=False).find_longest_match(0, len(text), 0, len(exact))
    start = max(0, match.a - match.b)
    return text[start : start + len(exact)]


def locate(
    text: str,
    exact: str,
    *,
    prefix: str | None = None,
    occurrence: int | None = None,
) -> Located:
    """Locate ``exact`` in ``text``.

    Where the words occur more than once, ``prefix`` (words that end right
    before them) or ``occurrence`` (1-based) says which one is meant.
    """
    starts = occurrences(text, exact)
    if not starts:
        hint = closest_passage(text, exact)
        raise SpanError(f"words not found: {exact!r}; the closest passage is {hint!r}")
    if prefix is not None:
        starts = [s for s in starts if text[:s].endswith(prefix)]
        if not starts:
            raise SpanError(f"no occurrence of {exact!r} follows the prefix {prefix!r}")
    if occurrence is not None:
        if not 1 <= occurrence <= len(starts):
            raise SpanError(f"occurrence {occurrence} asked for, but {exact!r} occurs {len(starts)} time(s)")
        starts = [starts[occurrence - 1]]
    if len(starts) > 1:
        shown = "; ".join(
            f"#{n} at {s}: …{text[max(0, s - 20) : s + len(exact) + 20]!r}…" for n, s in enumerate(starts, 1)
        )
        raise SpanError(f"{exact!r} occurs {len(starts)} times; give a prefix or an occurrence number: {shown}")
    start = starts[0]
    end = start + len(exact)
    before, after = context(text, start, end)
    return Located(start, end, exact, before, after)
