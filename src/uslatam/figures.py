"""Pictures of the data: a timeline of dated events, a network of who met whom, an evidence map, and the
argument (every claim, by who makes it, how firmly and of what kind).

Each figure is written as SVG (text kept as text, a fixed hash salt) and as PNG beside it (fixed dpi, no
software stamp), so unchanged data gives unchanged files. Each drawn event, entity, span and claim carries
its ID as the SVG element id (``gid``), which the tests use to check what is shown; a label's element is
``<id>_label``. Every figure's footer names the package version and the sources it is drawn from.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STEMS = ("timeline", "network", "evidence-map", "argument")
FIGURES = tuple(f"{stem}.{suffix}" for stem in STEMS for suffix in ("svg", "png"))
DPI = 150  # of the PNGs
WIDTH = 720.0  # points (10 inches): the width the laid-out figures wrap their text to
MARGIN = 18.0
INK, GREY, FAINT = "#212529", "#6c757d", "#dee2e6"
COLOURS = {
    "person": "#1b6ca8",
    "country": "#d1495b",
    "government_body": "#edae49",
    "armed_group": "#6a4c93",
    "organisation": "#00798c",
    "region": "#8d99ae",
    "place": "#8d99ae",
}
# Colours of the tables that cite spans, given in the descriptor's order of those tables.
TABLE_PALETTE = (
    "#adb5bd",
    "#8d99ae",
    "#6a4c93",
    "#1b6ca8",
    "#74a9cf",
    "#d1495b",
    "#edae49",
    "#00798c",
    "#2a9d8f",
    "#b07aa1",
    "#e76f51",
    "#606c38",
    "#ced4da",
    "#9c6644",
)
# Styles given to a vocabulary's codes by their place in the schema's enum, so no code is named here:
# a certainty's fill (the first code solid, the next half, then hollow), a polarity's colour, a precision's marker.
FILLS = ("full", "left", "none", "bottom", "right", "top")
SHADES = ("#1b6ca8", "#d1495b", "#2a9d8f", "#edae49", "#6a4c93", "#8d99ae")
SHAPES = ("o", "s", "D", "^", "v", "p")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.hashsalt": "uslatam",
            "svg.fonttype": "none",
            "font.size": 9,
            "font.family": "DejaVu Sans",
            "text.parse_math": False,  # a "$" in a summary is a dollar, not mathtext
        }
    )
    return plt


def _save(figure, path: Path, *, tight: bool = True) -> None:
    """Write ``figure`` as SVG at ``path`` and as PNG beside it; both are rendered before either is written."""
    import io

    from PIL import Image  # matplotlib's own dependency

    from .files import write_atomic

    bbox = "tight" if tight else None
    svg = io.StringIO()
    figure.savefig(svg, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches=bbox)
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches=bbox)
    png = io.BytesIO()
    # 256 colours: a third of the bytes of antialiased RGBA, and the same to the eye (white-backed figures)
    with Image.open(rendered) as image:
        image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(png, "PNG")
    write_atomic(path.with_suffix(".svg"), svg.getvalue().encode("utf-8"))
    write_atomic(path.with_suffix(".png"), png.getvalue())


def _width(figure, text: str, size: float, weight: str = "normal") -> float:
    """How wide ``text`` is drawn, in points."""
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(family="DejaVu Sans", size=size, weight=weight)
    renderer = figure.canvas.get_renderer()
    return renderer.get_text_width_height_descent(text, prop, ismath=False)[0] * 72 / figure.dpi


def _wrap(figure, text: str, width: float, size: float, weight: str = "normal") -> list[str]:
    """``text`` broken at spaces into lines at most ``width`` points wide; a longer word keeps a line of its own."""
    lines: list[str] = []
    for word in text.split():
        # a little slack: hinting makes text a shade wider at some resolutions
        if lines and _width(figure, f"{lines[-1]} {word}", size, weight) <= width * 0.96:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _codes(tables: dict, table: str, column: str, vocabularies: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """A categorical column's codes in their schema order, each with its label and definition from vocabularies.

    ``vocabularies`` maps ``table.column`` to the field's vocabulary (the schema's ``vocabulary``).
    """
    values = tables[table][column]
    if hasattr(values, "cat"):
        codes = [str(code) for code in values.cat.categories]
    else:
        codes = sorted({str(value) for value in values.dropna()})
    known: dict[str, tuple[str, str]] = {}
    if "vocabularies" in tables:
        rows = tables["vocabularies"]
        rows = rows[rows["vocabulary"] == vocabularies.get(f"{table}.{column}", column)]
        known = {code: (label, text) for code, label, text in zip(rows["code"], rows["label"], rows["definition"])}
    return [(code, *known.get(code, (code.replace("_", " "), ""))) for code in codes]


def _footer_text(descriptor: Mapping, sources) -> str:
    """The footer of a figure: the package and its version, and the sources (title, publisher, date) drawn from."""
    import pandas as pd

    cited = []
    for _, source in sources.iterrows():
        published = source["published"]
        date = f" ({pd.Timestamp(published):%Y-%m-%d})" if pd.notna(published) else ""
        cited.append(f"{source['publisher']}, “{source['title']}”{date}")
    name, version = descriptor.get("name", "data package"), descriptor.get("version", "without a version")
    plural = "s" if len(cited) > 1 else ""
    return f"Drawn by uslatam figures from {name} version {version}. Source{plural}: {'; '.join(cited)}."


class _Sheet:
    """A figure laid out top-down in points, WIDTH wide (y grows downwards); it is as tall as what was drawn."""

    def __init__(self, plt) -> None:
        self.figure = plt.figure(figsize=(WIDTH / 72, 1), dpi=72)
        self.axis = self.figure.add_axes((0, 0, 1, 1))
        self.axis.axis("off")
        self.y = MARGIN

    def wrap(self, text: str, width: float, size: float, weight: str = "normal") -> list[str]:
        return _wrap(self.figure, text, width, size, weight)

    def write(self, x: float, y: float, lines: list[str], size: float, **style) -> float:
        """Draw ``lines`` with their top at ``y``; return the height they take, in points."""
        style = {"color": INK, "va": "top", "ha": "left", "linespacing": 1.3, **style}
        artist = self.axis.text(x, y, "\n".join(lines), fontsize=size, **style)
        extent = artist.get_window_extent(self.figure.canvas.get_renderer())
        return extent.height * 72 / self.figure.dpi

    def paragraph(self, text: str, size: float, gap: float = 4.0, **style) -> None:
        """A full-width block of wrapped text at the current height."""
        lines = self.wrap(text, WIDTH - 2 * MARGIN, size, style.get("weight", "normal"))
        self.y += self.write(MARGIN, self.y, lines, size, **style) + gap

    def finish(self, footer: str) -> None:
        """Draw the footer under everything, then size the figure to what was drawn."""
        self.y += 6
        self.axis.plot([MARGIN, WIDTH - MARGIN], [self.y, self.y], "-", color=FAINT, linewidth=0.8)
        self.y += 5
        self.paragraph(footer, 7, gap=0, color=GREY, gid="footer_text")
        height = self.y + MARGIN
        self.figure.set_size_inches(WIDTH / 72, height / 72)
        self.axis.set_xlim(0, WIDTH)
        self.axis.set_ylim(height, 0)


def _footnote(axis, anchor, footer: str, width: float) -> None:
    """The footer of a plotted figure, under ``anchor`` (its legend), wrapped to ``width`` points."""
    lines = _wrap(axis.figure, footer, width, 7)
    axis.annotate(
        "\n".join(lines),
        (0, 0),
        xycoords=anchor,
        xytext=(0, -10),
        textcoords="offset points",
        va="top",
        ha="left",
        fontsize=7,
        color=GREY,
        gid="footer_text",
    )


def _interval(date: str, precision: str) -> tuple[datetime.date, datetime.date]:
    parts = [int(p) for p in date.split("-")]
    if precision == "year" or len(parts) == 1:
        return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)
    if precision == "month" or len(parts) == 2:
        start = datetime.date(parts[0], parts[1], 1)
        following = datetime.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
        return start, following - datetime.timedelta(days=1)
    day = datetime.date(*parts)
    return day, day


def _gap(shortest: int, longest: int) -> str:
    """How far apart two dates are, as the axis says it: a range when either is known only to the month or year."""
    if longest <= 0:
        return "within the period above"
    days = (
        f"{shortest} day{'s' if shortest != 1 else ''}" if shortest == longest else f"{max(shortest, 0)}–{longest} days"
    )
    if longest < 60:
        return f"{days} later"
    middle = (max(shortest, 0) + longest) / 2
    months = round(middle / 30.44)
    if months < 24:
        return f"{days} later (about {months} months)"
    return f"{days} later (about {round(middle / 365.25)} years)"


def _lineage(event_id: str, parents: Mapping[str, str]) -> tuple[str, ...]:
    """The event and the events it is part of, outermost first (so that an event sorts after its parent)."""
    chain = [event_id]
    while chain[0] in parents and parents[chain[0]] not in chain:
        chain.insert(0, parents[chain[0]])
    return tuple(chain)


def timeline(tables: dict, path: Path, footer: str = "", vocabularies: Mapping[str, str] | None = None) -> None:
    """Dated events in time order, one block per date the text gives, every summary in full.

    The axis is not to scale (events months apart and events of one day both stay readable):
    the time between consecutive dates is written on it.
    """
    import pandas as pd

    plt = _pyplot()
    events = tables["events"]
    dated = events[events["date_start"].notna()]
    precisions = _codes(tables, "events", "date_precision", vocabularies or {})
    shape = {code: SHAPES[i % len(SHAPES)] for i, (code, _, _) in enumerate(precisions)}
    blocks: dict[tuple, list] = {}
    for _, event in dated.iterrows():
        start, end = _interval(event["date_start"], event["date_precision"])
        if pd.notna(event["date_end"]):
            end = _interval(event["date_end"], event["date_precision"])[1]
        written = event["date_start"] if pd.isna(event["date_end"]) else f"{event['date_start']} to {event['date_end']}"
        blocks.setdefault((start, end, written, str(event["date_precision"])), []).append(event)

    sheet = _Sheet(plt)
    sheet.paragraph(f"Dated events: the {len(dated)} of {len(events)} events whose date the text gives", 11, gap=2)
    undated = len(events) - len(dated)
    sheet.paragraph(
        (f"The other {undated} are undated in the text. " if undated else "")
        + "One block per date, in time order; the axis is not to scale: the time between dates is written on it. "
        "An indented event is part of the one above.",
        8,
        gap=6,
        color=GREY,
    )
    used = [entry for entry in precisions if entry[0] in {key[3] for key in blocks}]
    for code, label, definition in used:
        sheet.axis.plot([MARGIN + 5], [sheet.y + 5], shape[code], color=SHADES[0], markersize=6)
        sheet.y += sheet.write(MARGIN + 16, sheet.y, [f"{label}: {definition}" if definition else label], 8) + 2
    sheet.y += 12

    axis_x = MARGIN + 104
    text_x = axis_x + 28
    previous_end: float | None = None
    previous_dates: tuple[datetime.date, datetime.date] | None = None  # the first and last day it may be
    for start, end, written, precision in sorted(blocks):
        if previous_end is not None and previous_dates is not None:
            sheet.axis.plot([axis_x, axis_x], [previous_end, sheet.y], ":", color=GREY, linewidth=1.2, zorder=1)
            sheet.write(
                axis_x + 10,
                (previous_end + sheet.y) / 2,
                [_gap((start - previous_dates[1]).days, (end - previous_dates[0]).days)],
                7.5,
                color=GREY,
                va="center",
                style="italic",
            )
        top = sheet.y
        sheet.axis.plot([axis_x], [top + 6], shape[precision], color=SHADES[0], markersize=9, zorder=3)
        date_lines = sheet.wrap(written, axis_x - 16 - MARGIN, 9, "bold")
        sheet.write(axis_x - 12, top, date_lines, 9, weight="bold", ha="right")
        members = blocks[(start, end, written, precision)]
        ids = {event["event_id"] for event in members}
        parents = {e["event_id"]: e["part_of_event_id"] for e in members if e["part_of_event_id"] in ids}
        for event in sorted(members, key=lambda e: _lineage(e["event_id"], parents)):
            indent = 16 * (len(_lineage(event["event_id"], parents)) - 1)
            sheet.axis.plot(
                [text_x + indent - 8], [sheet.y + 5.5], "o", color=INK, markersize=3.5, gid=event["event_id"]
            )
            width = WIDTH - MARGIN - text_x - indent
            lines = sheet.wrap(event["summary"], width, 9)
            sheet.y += sheet.write(text_x + indent, sheet.y, lines, 9, gid=f"{event['event_id']}_label") + 1
            facts = [str(event[column]).replace("_", " ") for column in ("event_type", "status", "polarity")]
            if pd.notna(event["place_as_written"]):
                facts.append(f"in {event['place_as_written']}")
            sheet.y += sheet.write(text_x + indent, sheet.y, sheet.wrap(" · ".join(facts), width, 7), 7, color=GREY)
            sheet.y += 8
        sheet.axis.plot([axis_x, axis_x], [top + 6, sheet.y - 8], "-", color=SHADES[0], linewidth=1.5, zorder=2)
        previous_end, previous_dates = sheet.y - 8, (start, end)
        sheet.y += 22
    sheet.y -= 22
    sheet.finish(footer)
    _save(sheet.figure, path, tight=False)
    plt.close(sheet.figure)


def argument(tables: dict, path: Path, footer: str = "", vocabularies: Mapping[str, str] | None = None) -> None:
    """Every claim, grouped by who makes it, with how firmly (certainty), its polarity and its claim type.

    The codes and their order are the schema's enums; their labels and definitions, in the legend, are
    from vocabularies (``vocabularies`` maps ``table.column`` to the field's vocabulary).
    """
    import pandas as pd

    plt = _pyplot()
    claims = tables["claims"]
    entities = tables["entities"].set_index("entity_id")
    sources = tables["sources"].set_index("source_id")
    kinds, firmness, polarities, voices = (
        _codes(tables, "claims", column, vocabularies or {})
        for column in ("claim_type", "certainty", "polarity", "voice")
    )
    column_of = {code: i for i, (code, _, _) in enumerate(kinds)}
    fill = {code: FILLS[i % len(FILLS)] for i, (code, _, _) in enumerate(firmness)}
    shade = {code: SHADES[i % len(SHADES)] for i, (code, _, _) in enumerate(polarities)}
    firm_place = {code: i for i, (code, _, _) in enumerate(firmness)}
    polarity_place = {code: i for i, (code, _, _) in enumerate(polarities)}
    voice_label = {code: label for code, label, _ in voices}

    # the claims in the source's own voice (no asserter) are grouped under the source itself
    groups: dict[tuple[int, str], list] = {}
    for _, claim in claims.iterrows():
        asserter = claim["asserted_by_entity_id"]
        key = (0, claim["source_id"]) if pd.isna(asserter) else (1, asserter)
        groups.setdefault(key, []).append(claim)

    def name(key: tuple[int, str]) -> str:
        if key[0] == 0:
            source = sources.loc[key[1]]
            several = claims["source_id"].nunique() > 1
            return f"{source['publisher']}: “{source['title']}”" if several else str(source["publisher"])
        return str(entities.loc[key[1], "name"]) if key[1] in entities.index else key[1]

    order = sorted(groups, key=lambda key: (key[0], -len(groups[key]), name(key)))

    sheet = _Sheet(plt)
    sheet.paragraph(f"The argument: the {len(claims)} claims the text makes or reports, by who makes them", 11, gap=2)
    sheet.paragraph(
        "One row per claim, under who makes it. The column is the kind of claim; the marker's fill says how firmly "
        "it is made and its colour whether the text says the thing is so or is not so.",
        8,
        gap=8,
        color=GREY,
    )
    # the legend: two columns, the markers' meanings on the left, the kinds of claim on the right
    half = (WIDTH - 2 * MARGIN - 16) / 2
    counts = {column: claims[column].astype(str).value_counts() for column in ("claim_type", "certainty", "polarity")}
    left, right = sheet.y, sheet.y
    left += sheet.write(MARGIN, left, ["How firmly (certainty)"], 8, weight="bold") + 3
    for code, label, definition in firmness:
        sheet.axis.plot(
            [MARGIN + 5], [left + 5], "o", fillstyle=fill[code], color=SHADES[0], markersize=7, markeredgewidth=1.2
        )
        text = f"{label} ({counts['certainty'].get(code, 0)}): {definition}"
        left += sheet.write(MARGIN + 16, left, sheet.wrap(text, half - 16, 8), 8) + 3
    left += sheet.write(MARGIN, left + 4, ["Polarity"], 8, weight="bold") + 7
    for code, label, definition in polarities:
        sheet.axis.plot([MARGIN + 5], [left + 5], "o", color=shade[code], markersize=7)
        text = f"{label} ({counts['polarity'].get(code, 0)}): {definition}"
        left += sheet.write(MARGIN + 16, left, sheet.wrap(text, half - 16, 8), 8) + 3
    x = MARGIN + half + 16
    right += sheet.write(x, right, ["Kind of claim (the columns)"], 8, weight="bold") + 3
    for code, label, definition in kinds:
        text = f"{label} ({counts['claim_type'].get(code, 0)}): {definition}"
        right += sheet.write(x, right, sheet.wrap(text, half, 8), 8) + 3
    right += sheet.write(x, right + 4, ["Voice (under each heading)"], 8, weight="bold") + 7
    for _, label, definition in voices:
        right += sheet.write(x, right, sheet.wrap(f"{label}: {definition}", half, 8), 8) + 3
    sheet.y = max(left, right) + 4

    # the column heads, turned upright so that the columns stay narrow
    step = 17.0
    first = MARGIN + 8
    text_x = first + step * len(kinds) + 6
    head = max(_width(sheet.figure, label, 8) for _, label, _ in kinds)
    bottom = sheet.y + head + 4
    for i, (_, label, _) in enumerate(kinds):
        sheet.axis.text(first + step * i, bottom, label, fontsize=8, rotation=90, ha="center", va="bottom", color=INK)
    sheet.y = bottom + 6
    top = sheet.y
    for key in order:
        members = sorted(
            groups[key],
            key=lambda c: (
                column_of.get(str(c["claim_type"]), 0),
                firm_place.get(str(c["certainty"]), 0),
                polarity_place.get(str(c["polarity"]), 0),
                c["claim_id"],
            ),
        )
        said = voice_label.get(str(members[0]["voice"]), str(members[0]["voice"]))
        heading = sheet.wrap(name(key), WIDTH - 2 * MARGIN - 180, 9, "bold")
        height = sheet.write(MARGIN + 4, sheet.y + 3, heading, 9, weight="bold")
        after = MARGIN + 4 + max(_width(sheet.figure, line, 9, "bold") for line in heading) + 10
        count = f"{len(members)} claim{'s' if len(members) > 1 else ''} · voice: {said}"
        sheet.write(max(after, text_x), sheet.y + 4, [count], 7.5, color=GREY)
        sheet.axis.add_patch(_band(MARGIN, sheet.y, WIDTH - 2 * MARGIN, height + 6))
        sheet.y += height + 10
        for claim in members:
            lines = sheet.wrap(claim["summary"], WIDTH - MARGIN - text_x, 8)
            x = first + step * column_of.get(str(claim["claim_type"]), 0)
            sheet.axis.plot(
                [x],
                [sheet.y + 5],
                "o",
                fillstyle=fill.get(str(claim["certainty"]), "full"),
                color=shade.get(str(claim["polarity"]), INK),
                markersize=7,
                markeredgewidth=1.2,
                zorder=3,
                gid=claim["claim_id"],
            )
            height = sheet.write(text_x, sheet.y, lines, 8, gid=f"{claim['claim_id']}_label")
            sheet.y += height + 3
            sheet.axis.plot([MARGIN, WIDTH - MARGIN], [sheet.y, sheet.y], "-", color="#f1f3f5", linewidth=0.6)
            sheet.y += 3
        sheet.y += 6
    for i in range(len(kinds)):
        sheet.axis.plot([first + step * i] * 2, [top, sheet.y - 6], "-", color=FAINT, linewidth=0.6, zorder=0)
    sheet.finish(footer)
    _save(sheet.figure, path, tight=False)
    plt.close(sheet.figure)


def _band(x: float, y: float, width: float, height: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), width, height, color="#f1f3f5", zorder=0, linewidth=0)


def network(tables: dict, path: Path, footer: str = "") -> None:
    """Who met, spoke with or acted with whom: entities linked by the events they share."""
    plt = _pyplot()
    participants = tables["event_participants"]
    entities = tables["entities"].set_index("entity_id")
    by_event: dict[str, list[str]] = {}
    for event_id, entity_id in zip(participants["event_id"], participants["entity_id"]):
        by_event.setdefault(event_id, [])
        if entity_id not in by_event[event_id]:
            by_event[event_id].append(entity_id)
    nodes = sorted({entity for members in by_event.values() for entity in members})
    weights: dict[tuple[str, str], int] = {}
    for members in by_event.values():
        for i, a in enumerate(sorted(members)):
            for b in sorted(members)[i + 1 :]:
                weights[(a, b)] = weights.get((a, b), 0) + 1
    position = {
        node: (math.cos(2 * math.pi * i / len(nodes)), math.sin(2 * math.pi * i / len(nodes)))
        for i, node in enumerate(nodes)
    }
    figure, axis = plt.subplots(figsize=(8, 8))
    for (a, b), weight in sorted(weights.items()):
        (xa, ya), (xb, yb) = position[a], position[b]
        axis.plot(
            [xa, xb], [ya, yb], "-", color="#adb5bd", linewidth=0.8 + 1.2 * weight, zorder=1, gid=f"edge-{a}--{b}"
        )
    for node in nodes:
        x, y = position[node]
        kind = entities.loc[node, "entity_type"]
        axis.scatter([x], [y], s=260, color=COLOURS.get(kind, "#adb5bd"), zorder=2, gid=node)
        axis.annotate(
            entities.loc[node, "name"],
            (x, y),
            xytext=(x * 14, y * 14),
            textcoords="offset points",
            ha="left" if x > 0.01 else ("right" if x < -0.01 else "center"),
            va="center",
            fontsize=8,
        )
    for kind in sorted({entities.loc[n, "entity_type"] for n in nodes}):
        axis.scatter([], [], s=80, color=COLOURS.get(kind, "#adb5bd"), label=kind.replace("_", " "))
    legend = axis.legend(loc="lower left", frameon=False, fontsize=8, bbox_to_anchor=(-0.1, -0.1))
    axis.set_xlim(-1.9, 1.9)
    axis.set_ylim(-1.5, 1.5)
    axis.set_aspect("equal")
    axis.axis("off")
    axis.set_title(
        "Who took part in events together (line width: number of shared events;\n"
        "an entity without lines is the only participant recorded for its events)",
        loc="left",
        fontsize=10,
    )
    _footnote(axis, legend, footer, 8 * 72 - 2 * MARGIN)
    _save(figure, path)
    plt.close(figure)


def _runs(start: int, end: int, width: int):
    """The pieces of the code points ``start..end`` on rows of ``width``: (row, column, length)."""
    position = start
    while position < end:
        row, column = divmod(position, width)
        length = min(end - position, width - column)
        yield row, column, length
        position += length


def evidence_map(
    tables: dict,
    citing: dict[str, list[str]],
    text: str,
    path: Path,
    width: int = 120,
    footer: str = "",
    body: tuple[int, int] | None = None,
) -> None:
    """The stored text (one source) as rows of code points, with the passages each table cites coloured.

    ``citing`` maps each table that cites spans to its span columns, in the descriptor's order;
    a span cited by several tables is coloured by the last. ``body`` is where the source's body lies
    (its row's ``body_start`` and ``body_end``): the text outside it is page furniture, hatched.
    """
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    spans = tables["spans"].set_index("span_id")
    colours = {table: TABLE_PALETTE[i % len(TABLE_PALETTE)] for i, table in enumerate(citing)}
    cited: dict[str, str] = {}
    for table, columns in citing.items():
        for column in columns:
            for span_id in tables[table][column].dropna():
                if span_id in spans.index:
                    cited[span_id] = table
    rows = math.ceil(len(text) / width)
    figure, axis = plt.subplots(figsize=(9, rows * 0.075 + 1.2))
    axis.add_patch(Rectangle((0, -rows), width, rows, color="white", zorder=0))
    body_start, body_end = body if body is not None else (0, len(text))
    furniture: dict[str, Any] = dict(facecolor="white", edgecolor="#868e96", hatch="////", linewidth=0, zorder=0.5)
    for start, end in ((0, body_start), (body_end, len(text))):
        for text_row, text_column, length in _runs(start, end, width):
            axis.add_patch(Rectangle((text_column, -text_row - 1), length, 1, **furniture))
    for offset, what in ((body_start, "body starts"), (body_end, "body ends")):
        if 0 < offset < len(text):
            axis.annotate(
                f"◀ {what} (code point {offset})",
                (width, -(offset // width) - 0.5),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                color=GREY,
            )
    order = {name: i for i, name in enumerate(citing)}
    for span_id, table in sorted(cited.items(), key=lambda item: (order.get(item[1], 0), item[0])):
        start, end = int(spans.loc[span_id, "start"]), int(spans.loc[span_id, "end"])
        for i, (text_row, text_column, length) in enumerate(_runs(start, end, width)):
            axis.add_patch(
                Rectangle(
                    (text_column, -text_row - 1),
                    length,
                    0.9,
                    color=colours[table],
                    zorder=1 + order.get(table, 0),
                    gid=span_id if i == 0 else None,
                )
            )
    for table, colour in colours.items():
        axis.add_patch(Rectangle((0, 0), 0, 0, color=colour, label=table.replace("_", " ")))
    axis.add_patch(Rectangle((0, 0), 0, 0, **furniture, label="outside the body: page furniture, not the article"))
    legend = axis.legend(loc="upper left", bbox_to_anchor=(0, -0.01), ncol=4, frameon=False, fontsize=8)
    axis.set_xlim(0, width)
    axis.set_ylim(-rows - 0.5, 0.5)
    axis.axis("off")
    title = (
        f"Evidence map: {len(cited)} cited spans over the {len(text)} code points of the text "
        f"({width} per row, read left to right, top to bottom; a span is coloured by the last table citing it; "
        "white: cited by no table)"
    )
    axis.set_title("\n".join(_wrap(figure, title, 9 * 72 - 2 * MARGIN, 10)), loc="left", fontsize=10)
    _footnote(axis, legend, footer, 9 * 72 - 2 * MARGIN)
    _save(figure, path)
    plt.close(figure)


def draw_all(destination: str | Path, path: str | Path | None = None) -> list[Path]:
    """Write every figure into ``destination`` from this version's data (or the package at ``path``)."""
    from .boundary import DEFAULT_LIMITS, package_text
    from .loading import LoadError, _root, _specs, load
    from .package import PackageError, load_readable

    root = _root(path)
    tables = load(root)
    specs = {name: spec for name, (spec, _) in _specs(root).items()}
    try:
        descriptor = load_readable(root).descriptor
    except PackageError as error:
        raise LoadError(str(error)) from None
    citing = {name: spec.references("spans") for name, spec in specs.items() if name != "spans"}
    vocabularies = {
        f"{name}.{f.name}": f.vocabulary for name, spec in specs.items() for f in spec.fields if f.vocabulary
    }
    sources = tables["sources"]
    source = sources.iloc[0]
    # read before drawing, so that a refused text (Refused: exit 2) leaves no figure half-made
    text = package_text(
        root, source["text_path"], what="text_path", limit=DEFAULT_LIMITS.max_text_bytes, listed_in="data/sources.csv"
    )

    def footer(source_ids) -> str:
        drawn = sources[sources["source_id"].isin(set(source_ids))]
        return _footer_text(descriptor, drawn if len(drawn) else sources)

    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    events = tables["events"]
    dated = events.loc[events["date_start"].notna(), "source_id"]
    timeline(tables, destination / "timeline.svg", footer(dated), vocabularies)
    met = events.loc[events["event_id"].isin(set(tables["event_participants"]["event_id"])), "source_id"]
    network(tables, destination / "network.svg", footer(met))
    first_source = tables["spans"][tables["spans"]["source_id"] == source["source_id"]]
    citing = {name: columns for name, columns in citing.items() if columns}
    evidence_map(
        {**tables, "spans": first_source},
        citing,
        text,
        destination / "evidence-map.svg",
        footer=footer([source["source_id"]]),
        body=(int(source["body_start"]), int(source["body_end"])),
    )
    argument(tables, destination / "argument.svg", footer(tables["claims"]["source_id"]), vocabularies)
    return [destination / name for name in FIGURES]
