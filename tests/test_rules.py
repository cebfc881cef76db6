"""The named rules: what they compute, what they declare, and that each code is catalogued."""

from __future__ import annotations

import bisect
from decimal import Decimal

import pytest

from uslatam.codes import CATALOGUE, LAYERS
from uslatam.package import load
from uslatam.schema import TableSpec
from uslatam.validate import rules, validate
from uslatam.validate.context import UndeclaredColumn, UndeclaredState
from uslatam.validate.rules.evidence import value_bounds

from .conftest import FIXTURES, ROOT


@pytest.mark.parametrize(
    ("words", "low", "high"),
    [
        ("2.8 million", 2_750_000, 2_850_000),
        ("222,000", 221_500, 222_500),
        ("222", 222, 222),  # a whole number without trailing zeros is exact
        ("7", 7, 7),
        ("1,234", 1_234, 1_234),
        ("1.5 billion", 1_450_000_000, 1_550_000_000),
        ("45%", 45, 45),
        ("4.5%", 4.45, 4.55),
    ],
)
def test_value_bounds_follow_the_rounding_the_words_imply(words: str, low, high) -> None:
    assert value_bounds(words) == (Decimal(str(low)), Decimal(str(high)))


# A quantifier is not a measurement: no number words stand for a value.
@pytest.mark.parametrize("words", ["many", "2.8.1 million", "", "million", "most", "multi-billion"])
def test_unreadable_number_words(words: str) -> None:
    assert value_bounds(words) is None


def test_a_rule_that_reads_an_undeclared_column_fails_loudly(monkeypatch) -> None:
    def peeks(ctx, typed):
        ctx.lookup("spans", "span_id", "exact", typed, "span_id")  # "exact" is not in its needs
        yield from ()

    undeclared = rules.Rule("peeks", (), peeks, tables=("quotes",), needs={"spans": ("span_id",)})
    monkeypatch.setattr(rules, "RULES", [*rules.RULES, undeclared])
    with pytest.raises(UndeclaredColumn, match=r"'peeks' reads spans\.exact"):
        validate(FIXTURES / "clean", against=False)


@pytest.mark.parametrize(
    ("uses", "reads", "said"),
    [
        (lambda ctx: ctx.texts.get("x"), (), "'peeks' uses ctx.texts without declaring it"),
        (lambda ctx: bool(ctx.broken_spans), (), "'peeks' uses ctx.broken_spans"),
        (lambda ctx: ctx.specs["quotes"], (), "'peeks' uses ctx.specs"),
        (lambda ctx: ctx.package.root, (), "'peeks' uses ctx.package"),
        (lambda ctx: ctx.gathered.setdefault("x", []), (), "'peeks' uses ctx.gathered"),
        (lambda ctx: ctx.texts.__setitem__("x", "y"), ("texts",), "mappingproxy"),
        (lambda ctx: ctx.broken_spans.add("x"), ("broken_spans",), "has no attribute 'add'"),
    ],
    ids=["texts", "broken-spans", "specs", "package", "gathered", "texts-read-only", "broken-spans-read-only"],
)
def test_a_rule_that_uses_undeclared_state_fails_loudly(monkeypatch, uses, reads, said) -> None:
    """What a rule reads besides tables keys its kept findings: a read or a write it does not declare
    would let a kept result go stale, so it fails at once."""

    def peeks(ctx, typed):
        uses(ctx)
        yield from ()

    undeclared = rules.Rule("peeks", (), peeks, tables=("quotes",), reads=reads)
    monkeypatch.setattr(rules, "RULES", [*rules.RULES, undeclared])
    with pytest.raises((UndeclaredState, TypeError, AttributeError), match=said):
        validate(FIXTURES / "clean", against=False)


def test_a_rule_is_kept_between_runs_only_when_it_fills_nothing_but_gathered_and_reads_keyable_state() -> None:
    by_name = {r.name: r for r in rules.RULES}
    assert by_name["text_hygiene"].keepable and by_name["words_in_spans"].keepable
    assert by_name["gather_keys"].keepable and by_name["mention_chains"].keepable  # gathered: kept beside
    assert by_name["span_words"].keepable  # fills broken_spans: kept beside
    assert by_name["retracted_rows"].keepable  # reads the release: kept only where there is none
    assert not by_name["source_texts"].keepable  # reads the package, fills texts
    assert not any(r.keepable for r in rules.RULES if not r.per_table)  # package rules run every time


def test_what_stays_in_memory_is_what_rules_declare() -> None:
    kept = rules.kept_columns()
    for registered in rules.RULES:
        for table, columns in registered.needs.items():
            assert set(columns) <= kept[table], registered.name


def test_every_rule_names_tables_and_columns_that_exist() -> None:
    package, _ = load(ROOT)
    specs = {r.name: TableSpec.from_schema(r.name, r.schema) for r in package.resources}
    for registered in rules.RULES:
        assert set(registered.tables or ()) <= set(specs), registered.name
        for table, columns in registered.needs.items():
            assert table in specs, (registered.name, table)
            assert set(columns) <= set(specs[table].field_names), (registered.name, table)
    assert set(rules.READ_FIRST) <= set(specs)


def test_every_rule_code_is_catalogued_with_a_hint_and_a_layer() -> None:
    for registered in rules.RULES:
        assert registered.codes or registered.gathers, registered.name
        for code in registered.codes:
            assert code in CATALOGUE, f"rule {registered.name} reports {code!r}, which uslatam/codes.py lacks"
    for entry in CATALOGUE.values():
        assert entry.hint.strip() and entry.title.strip(), entry.code
        assert entry.layer in LAYERS, f"{entry.code}: layer {entry.layer!r} is not one of {LAYERS}"


def test_a_row_out_of_the_canonical_order_makes_the_package_invalid() -> None:
    """The README says row order is fixed: a row appended out of place is an error, not a warning."""
    report = validate(FIXTURES / "row-order")
    misplaced = [f for f in report.errors if f.code == "row-order"]
    assert not report.valid and len(misplaced) == 1 and misplaced[0].line == 3 and misplaced[0].column == "entity_id"
    assert "uslatam rehash" in misplaced[0].hint


@pytest.mark.parametrize(
    ("written", "advice"),
    [
        ("18/05/2017", "write it year-month-day: 2017-05-18"),
        ("05/18/2017", "write it year-month-day: 2017-05-18"),
        ("04.05.2017", "2017-05-04 if the day comes first, 2017-04-05 if the month does"),
        ("2017-05-18", None),
        ("18/05/17", None),
    ],
)
def test_a_date_written_day_month_year_is_told_the_form_to_write(written: str, advice: str | None) -> None:
    from uslatam.validate import _iso_date_advice

    found = _iso_date_advice(written)
    assert found == advice if advice is None or advice.startswith("write") else advice in found


def test_a_day_month_year_date_in_a_package_gets_the_iso_form(package_copy) -> None:
    from uslatam.package import refresh_integrity

    events = package_copy / "data" / "events.csv"
    events.write_text(events.read_text(encoding="utf-8").replace(",2017-05-18,", ",18/05/2017,", 1), encoding="utf-8")
    refresh_integrity(package_copy)
    found = [f for f in validate(package_copy).errors if f.column == "date_start"]
    assert len(found) == 1 and found[0].expected == "2017-05-18" and "year-month-day" in found[0].message


def _mention_parts(mentions: dict[tuple[str, str], list[tuple[int, int]]]) -> list:
    """The mentions as the rule keeps them: an Arrow array of entities and their spans as columns."""
    import pyarrow as pa

    from uslatam.validate.rules.support import SpanColumns

    pairs = [(entity, (source, start, end)) for (entity, source), spans in mentions.items() for start, end in spans]
    return [(pa.array([e for e, _ in pairs], pa.large_string()), SpanColumns.of([cell for _, cell in pairs]))]


def _one_bisection(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether one of the sorted (start, end) spans lies inside start..end: the plain way."""
    at = bisect.bisect_left(spans, (start, -1))
    while at < len(spans) and spans[at][0] < end:
        if spans[at][1] <= end:
            return True
        at += 1
    return False


def test_the_mention_index_answers_as_a_bisection_a_span_does() -> None:
    """Whole-array lookups (with the bisection past their few steps) agree with one bisection a span,
    on random mentions, some spans holding more candidates than the array steps try."""
    import random

    import pyarrow as pa

    from uslatam.validate.rules.support import MentionIndex, SpanColumns

    chance = random.Random(3)
    mentions: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for entity in ("a", "b", "c"):
        for source in ("s1", "s2"):
            starts = [chance.randrange(0, 400) for _ in range(chance.randrange(0, 60))]
            mentions[(entity, source)] = sorted((s, s + chance.randrange(1, 40)) for s in starts)
    entities, cells = [], []
    for _ in range(3000):
        start = chance.randrange(0, 420)
        entities.append(chance.choice(["a", "b", "c", "d"]))
        cells.append(
            None
            if chance.random() < 0.05
            else (chance.choice(["s1", "s2", "s3"]), start, start + chance.randrange(0, 120))
        )
    index = MentionIndex(_mention_parts(mentions))
    held = index.inside(pa.array(entities, pa.large_string()), SpanColumns.of(cells))
    expected = [
        cell is not None and _one_bisection(mentions.get((entity, cell[0]), []), cell[1], cell[2])
        for entity, cell in zip(entities, cells)
    ]
    assert held.tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_the_mention_index_looks_past_its_array_steps() -> None:
    import pyarrow as pa

    from uslatam.validate.rules.support import MentionIndex, SpanColumns

    crowded = {("a", "s"): sorted([(i, 200) for i in range(20)] + [(50, 60)])}  # 20 candidates too long first
    index = MentionIndex(_mention_parts(crowded))
    assert index.STEPS < 20
    asked = SpanColumns.of([("s", 0, 100), ("s", 0, 55)])
    assert index.inside(pa.array(["a", "a"], pa.large_string()), asked).tolist() == [True, False]


def test_the_mention_index_keeps_many_groups_and_far_offsets_apart() -> None:
    """Pair codes of 50,000 entities a source each stay distinct (int32 codes once wrapped), and a
    span starting past 2**32 is looked up in its own group, not the next one."""
    import pyarrow as pa

    from uslatam.validate.rules.support import MentionIndex, SpanColumns

    many = {(f"E{i}", f"S{i}"): [(0, 10)] for i in range(50_000)}
    index = MentionIndex(_mention_parts(many))
    own = SpanColumns.of([(f"S{i}", 0, 10) for i in range(50_000)])
    assert index.inside(pa.array([f"E{i}" for i in range(50_000)], pa.large_string()), own).all()
    far = 1 << 32
    apart = {("a", "s0"): [(far + 20, far + 30)], ("a", "s1"): [(1, 5)]}
    index = MentionIndex(_mention_parts(apart))
    asked = SpanColumns.of([("s0", far, far + 10), ("s0", far, far + 40), ("s1", 0, 6), ("s1", 2, 6)])
    assert index.inside(pa.array(["a"] * 4, pa.large_string()), asked).tolist() == [False, True, True, False]


def test_inherited_dates_find_the_last_row_of_a_key_and_numbers_of_either_type() -> None:
    import pyarrow as pa

    from uslatam.validate.rules.support import _last_positions

    keys = pa.array(["a", "b", "a", "c"], pa.large_string())
    assert _last_positions(pa.array(["a", "c", "z", None], pa.large_string()), keys).to_pylist() == [2, 3, None, None]
    assert _last_positions(pa.array([5, 6, 7]), pa.array([5.0, 6.0])).to_pylist() == [0, 1, None]
    assert _last_positions(pa.array(["5"], pa.large_string()), pa.array([5])).to_pylist() == [None]


def test_mentions_of_an_entity_column_that_is_not_text_are_findings_not_a_crash(package_copy) -> None:
    _declare_type(package_copy, "mentions", "entity_id", "integer")
    report = validate(package_copy, against=False)
    assert not report.fatal
    assert any(f.code == "type-error" and f.table == "mentions" for f in report.findings)


@pytest.mark.parametrize("declared", ["integer", "number", "boolean", "date"])
def test_a_retractions_table_column_of_another_type_is_reported_not_a_crash(package_copy, declared: str) -> None:
    """A pull request may declare ``table_name`` of any type: each cell is then a type-error, and the
    retraction rules compare what is left as text, as they do a text column."""
    _declare_type(package_copy, "retractions", "table_name", declared)
    report = validate(package_copy, cache=False)
    assert not report.fatal
    assert any(f.code == "type-error" and f.column == "table_name" for f in report.findings)


def _declare_type(package, table: str, column: str, declared: str) -> None:
    """``table.column`` declared of type ``declared`` (its constraints dropped), the package rehashed."""
    import json

    from uslatam.package import refresh_integrity

    path = package / "schemas" / f"{table}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    field = next(f for f in schema["fields"] if f["name"] == column)
    field["type"] = declared
    field.pop("constraints", None)
    path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    refresh_integrity(package)
