from __future__ import annotations

import pytest

from uslatam.spans import SpanError, context, locate, occurrences

TEXT = "On May 18, they met. On May 18, InSight Crime launched. The end."


def test_locate_a_unique_passage() -> None:
    found = locate(TEXT, "they met")
    assert (found.start, found.end) == (11, 19)
    assert TEXT[found.start : found.end] == found.exact
    assert found.prefix == "On May 18, " and found.suffix.startswith(". On May 18")


def test_ambiguous_words_need_a_prefix_or_an_occurrence() -> None:
    with pytest.raises(SpanError, match="occurs 2 times"):
        locate(TEXT, "On May 18")
    assert locate(TEXT, "On May 18", occurrence=2).start == 21
    assert locate(TEXT, "On May 18", prefix="met. ").start == 21
    with pytest.raises(SpanError, match="occurrence 3"):
        locate(TEXT, "On May 18", occurrence=3)


def test_missing_words_show_the_closest_passage() -> None:
    with pytest.raises(SpanError, match="closest passage is 'InSight Crime launched"):
        locate(TEXT, "InSight Crime launches")


def test_context_is_clipped_at_the_text_edges() -> None:
    assert context(TEXT, 0, 2, 32) == ("", TEXT[2:34])
    assert context(TEXT, len(TEXT) - 4, len(TEXT), 32)[1] == ""


def test_overlapping_occurrences_are_all_found() -> None:
    assert occurrences("aaaa", "aa") == [0, 1, 2]
    with pytest.raises(SpanError):
        occurrences("text", "")
