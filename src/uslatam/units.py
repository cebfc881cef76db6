"""Text units: the sentences, quotations, numbers, dates and names of a source's body, and which
of them the cited spans leave uncovered. Language rules only: nothing here knows any article.

Five kinds of *unit* are found:

- ``sentence``: split at ``.`` ``?`` ``!`` ``…`` followed by white space and a word that
  is not lower case, and at every line end; blank lines are skipped;
- ``quotation``: the words between a pair of quotation marks (``"…"`` or ``“…”``);
- ``number``: digits (``2.8``, ``222,000``, ``45%``) with an optional scale word, or a
  spelled-out scale phrase (``two million``, ``multi-billion``);
- ``date``: an English month name with its day and year if given, or a year 1900–2100;
- ``name``: a run of capitalised words (joined by ``of``, ``de``, ``the`` ...), not the
  lone capitalised first word of a sentence.

A unit other than a sentence is *covered* when it lies inside one cited span; a sentence when
spans of the roles ``cites`` and ``excludes`` hold at least half of its non-space characters
(spans of the role ``names`` cover names only). :mod:`uslatam.coverage` applies this to a package.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

KINDS = ("sentence", "quotation", "number", "date", "name")
CITES, NAMES, EXCLUDES = "cites", "names", "excludes"
SENTENCE_SHARE = 0.5  # the share of a sentence's non-space characters its cited spans must hold

MONTH_NAMES = (  # English, not strftime's: its names follow the locale
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH = "|".join(MONTH_NAMES)
_YEAR = r"(?:19[0-9]{2}|20[0-9]{2}|2100)"
_DATE = re.compile(
    rf"\b(?:[0-9]{{1,2}}\s+(?:{_MONTH})\b(?:,?\s+{_YEAR})?"
    rf"|(?:{_MONTH})\b(?:\s+[0-9]{{1,2}}(?:st|nd|rd|th)?\b)?(?:,?\s+{_YEAR})?)(?![0-9])"
    rf"|(?<![0-9,.])\b{_YEAR}\b(?![0-9]|[,.][0-9])"
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|a|an|several|multi"
)
_SCALE = r"(?:hundred|thousand|million|billion|trillion)s?"
_NUMBER = re.compile(
    r"(?<![\w.,])[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?:\s*(?:%|percent\b))?(?:[\s-]+" + _SCALE + r"\b)?"
    r"|\b(?:(?:" + _NUMBER_WORDS + r")[\s-]+)*" + _SCALE + r"\b",
    re.IGNORECASE,
)
_QUOTATION = re.compile(r'"([^"\n]+)"|“([^”\n]+)”')
_SENTENCE_END = re.compile(r"[.?!…]+[\"”’')\]]*(?=\s+[^\s\w]*(?:[^\W\d_]|[0-9])(?<![a-z]))")
_WORD = re.compile(r"[^\W_][\w'’.-]*")
# Short lower-case words that join the capitalised words of one name ("Secretary of State").
_NAME_JOINERS = frozenset({"of", "de", "del", "la", "las", "los", "the", "for", "van", "von", "da"})


@dataclass(frozen=True)
class Unit:
    """One unit of a source's body: what kind, where (code-point offsets, half-open; the line and
    column of its start, from 1) and its words."""

    source_id: str
    kind: str
    start: int
    end: int
    words: str
    line: int = 1
    column: int = 1


# --- units -----------------------------------------------------------------------------


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text[start:end]``, white space trimmed."""
    found = []
    line_start = start
    for line_end in [m.start() for m in re.finditer("\n", text[start:end])] + [end - start]:
        line_end += start
        piece_start = line_start
        for match in _SENTENCE_END.finditer(text, line_start, line_end):
            found.append((piece_start, match.end()))
            piece_start = match.end()
        found.append((piece_start, line_end))
        line_start = line_end + 1
    trimmed = []
    for first, last in found:
        while first < last and text[first].isspace():
            first += 1
        while last > first and text[last - 1].isspace():
            last -= 1
        if first < last:
            trimmed.append((first, last))
    return trimmed


def _names(text: str, sentence: tuple[int, int], dates: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs of capitalised words of one sentence (words of a date apart).

    The first word of a sentence or a quotation is capitalised anyway: it is never part of a name.
    """
    inside_date = _Intervals(dates)
    words = [
        (m.start(), m.end()) for m in _WORD.finditer(text, *sentence) if not inside_date.holds(m.start(), m.start() + 1)
    ]
    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(words):
        first, last = words[index]
        # a sentence, a quotation (its mark right before the word) or a list after a colon begins here
        mark = first - 1  # the last character before the word that is not white space
        while mark >= sentence[0] and text[mark].isspace():
            mark -= 1
        begins = mark < sentence[0] or text[first - 1] in "\"“'‘(" or text[mark] == ":"
        if not text[first].isupper() or begins:
            index += 1
            continue
        run_end, count, following = last, 1, index + 1
        while following < len(words):
            word_start, word_end = words[following]
            word = text[word_start:word_end]
            if text[run_end:word_start] not in (" ", "-"):
                break
            if word[0].isupper():
                run_end, count, following = word_end, count + 1, following + 1
                continue
            after = following + 1
            if (
                word in _NAME_JOINERS
                and after < len(words)
                and text[word_end : words[after][0]] == " "
                and text[words[after][0]].isupper()
            ):
                run_end, following = words[after][1], after + 1  # a joiner only between capitalised words
                count += 1
                continue
            break
        if count > 1 or last - first > 1:
            runs.append((first, run_end))
        index = following
    return runs


def _strip_name(text: str, start: int, end: int) -> tuple[int, int]:
    """A name without the full stop or apostrophe-s that ends its last word."""
    while end > start and text[end - 1] in ".-'’":
        end -= 1
    for suffix in ("'s", "’s"):
        if text.endswith(suffix, start, end):
            end -= 2
    return start, end


def find_units(source_id: str, text: str, start: int, end: int) -> list[Unit]:
    """Every unit of ``text[start:end]``, in order of offset."""
    found: list[tuple[str, int, int]] = []
    parts = sentences(text, start, end)
    found += [("sentence", s, e) for s, e in parts]
    for match in _QUOTATION.finditer(text, start, end):
        group = 1 if match.group(1) is not None else 2
        found.append(("quotation", match.start(group), match.end(group)))
    dates = [(m.start(), m.end()) for m in _DATE.finditer(text, start, end)]
    found += [("date", s, e) for s, e in dates]
    inside_date = _Intervals(dates)
    for match in _NUMBER.finditer(text, start, end):
        s, e = match.start(), match.end()
        if not inside_date.holds(s, e):
            found.append(("number", s, e))
    for sentence in parts:
        for s, e in _names(text, sentence, dates):
            s, e = _strip_name(text, s, e)
            if e > s and not inside_date.holds(s, e):
                found.append(("name", s, e))
    found.sort(key=lambda unit: (unit[1], unit[2], KINDS.index(unit[0])))
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    units = []
    for kind, s, e in found:
        line = bisect.bisect_right(line_starts, s)
        units.append(Unit(source_id, kind, s, e, text[s:e], line, s - line_starts[line - 1] + 1))
    return units


# --- what is covered -------------------------------------------------------------------


class _Intervals:
    """Spans as (start, end) pairs: which unit lies inside one of them, in O(log n)."""

    def __init__(self, spans: Iterable[tuple[int, int]]):
        ordered = sorted(spans)
        self.starts = [s for s, _ in ordered]
        self.reach = []  # the farthest end of the spans starting at or before each one
        farthest = -1
        for _, e in ordered:
            farthest = max(farthest, e)
            self.reach.append(farthest)

    def holds(self, start: int, end: int) -> bool:
        at = bisect.bisect_right(self.starts, start)
        return at > 0 and self.reach[at - 1] >= end


def _held(text: str, sentence: tuple[int, int], spans: Sequence[tuple[int, int]]) -> float:
    """The share of the sentence's non-space characters inside the spans."""
    first, last = sentence
    pieces = sorted((max(s, first), min(e, last)) for s, e in spans if max(s, first) < min(e, last))
    merged: list[list[int]] = []  # the parts of the sentence some span covers, each once
    for lo, hi in pieces:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    counted = _visible(text[first:last])
    held = sum(_visible(text[lo:hi]) for lo, hi in merged)
    return held / counted if counted else 1.0


def _visible(text: str) -> int:
    """How many characters of ``text`` are not white space (split() splits where isspace() holds)."""
    return sum(len(word) for word in text.split())


def uncovered(
    source_id: str, text: str, body_start: int, body_end: int, spans: dict[str, list[tuple[int, int]]]
) -> tuple[dict[str, int], list[Unit]]:
    """(units found per kind, the uncovered ones) of one source; ``spans`` are its cited spans by role."""
    facts = list(spans.get(CITES, ())) + list(spans.get(EXCLUDES, ()))
    every = _Intervals(facts + list(spans.get(NAMES, ())))
    units = find_units(source_id, text, body_start, body_end)
    counts = {kind: sum(1 for u in units if u.kind == kind) for kind in KINDS}
    facts.sort()
    starts = [s for s, _ in facts]
    missing = []
    for unit in units:
        if unit.kind == "sentence":
            # only the spans that can reach the sentence
            near = [span for span in facts[: bisect.bisect_left(starts, unit.end)] if span[1] > unit.start]
            if _held(text, (unit.start, unit.end), near) < SENTENCE_SHARE:
                missing.append(unit)
        elif not every.holds(unit.start, unit.end):
            missing.append(unit)
    return counts, missing
