"""Pictures of the data: a timeline of dated events, a network of who met whom, an evidence map.

Written as SVG with text kept as text and a fixed hash salt, so unchanged data gives
unchanged files. Each drawn event, entity and span carries its ID as the SVG element
id (``gid``), which the tests use to check what is shown.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

FIGURES = ("timeline.svg", "network.svg", "evidence-map.svg")
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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"svg.hashsalt": "uslatam", "svg.fonttype": "none", "font.size": 9, "font.family": "DejaVu Sans"}
    )
    return plt


def _save(figure, path: Path) -> None:
    import io

    from .files import write_atomic

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    write_atomic(path, buffer.getvalue().encode("utf-8"))


def _interval(date: str, precision: str) -> tuple[datetime.date, datetime.date]:
    parts = [int(p) for p in date.split("-")]
    if precision == "year":
        return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)
    if precision == "month":
        start = datetime.date(parts[0], parts[1], 1)
        following = datetime.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
        return start, following - datetime.timedelta(days=1)
    day = datetime.date(*parts)
    return day, day


def timeline(tables: dict, path: Path) -> None:
    """Dated events on a time axis: a dot for a day, a bar for a month or a year."""
    import matplotlib.dates as mdates

    plt = _pyplot()
    events = tables["events"]
    dated = events[events["date_start"].notna()].sort_values(["date_start", "event_id"]).reset_index(drop=True)
    figure, axis = plt.subplots(figsize=(9, 0.42 * len(dated) + 1.2))
    for row_number, event in dated.iterrows():
        start, end = _interval(event["date_start"], event["date_precision"])
        y = len(dated) - row_number
        if start == end:
            axis.plot([start], [y], "o", color="#1b6ca8", gid=event["event_id"])
        else:
            axis.plot(
                [start, end], [y, y], "-", linewidth=6, color="#d1495b", solid_capstyle="butt", gid=event["event_id"]
            )
        label = f"{event['date_start']}  {event['summary']}"
        axis.annotate(
            label if len(label) < 95 else label[:92] + "…",
            (end, y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    axis.set_yticks([])
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    first = min(_interval(d, p)[0] for d, p in zip(dated["date_start"], dated["date_precision"]))
    last = max(_interval(d, p)[1] for d, p in zip(dated["date_start"], dated["date_precision"]))
    axis.set_xlim(first - datetime.timedelta(days=20), last + datetime.timedelta(days=20))
    axis.set_ylim(0.3, len(dated) + 0.7)
    for side in ("left", "right", "top"):
        axis.spines[side].set_visible(False)
    axis.plot([], [], "o", color="#1b6ca8", label="known to the day")
    axis.plot([], [], "-", linewidth=6, color="#d1495b", label="known to the month (bar spans it)")
    axis.legend(loc="lower left", frameon=False, fontsize=8)
    axis.set_title(
        f"Dated events ({len(dated)} of {len(events)} events; the others are undated in the text)",
        loc="left",
        fontsize=10,
    )
    _save(figure, path)
    plt.close(figure)


def network(tables: dict, path: Path) -> None:
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
    axis.legend(loc="lower left", frameon=False, fontsize=8, bbox_to_anchor=(-0.1, -0.1))
    axis.set_xlim(-1.9, 1.9)
    axis.set_ylim(-1.5, 1.5)
    axis.set_aspect("equal")
    axis.axis("off")
    axis.set_title("Who took part in events together (line width: number of shared events)", loc="left", fontsize=10)
    _save(figure, path)
    plt.close(figure)


def evidence_map(tables: dict, citing: dict[str, list[str]], text: str, path: Path, width: int = 120) -> None:
    """The stored text (one source) as rows of code points, with the passages each table cites coloured.

    ``citing`` maps each table that cites spans to its span columns, in the descriptor's order;
    a span cited by several tables is coloured by the last.
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
    axis.add_patch(Rectangle((0, -rows), width, rows, color="#f1f3f5", zorder=0))
    order = {name: i for i, name in enumerate(citing)}
    for span_id, table in sorted(cited.items(), key=lambda item: (order.get(item[1], 0), item[0])):
        start, end = int(spans.loc[span_id, "start"]), int(spans.loc[span_id, "end"])
        position, first = start, True
        while position < end:
            text_row, text_column = divmod(position, width)
            length = min(end - position, width - text_column)
            axis.add_patch(
                Rectangle(
                    (text_column, -text_row - 1),
                    length,
                    0.9,
                    color=colours[table],
                    zorder=1 + order.get(table, 0),
                    gid=span_id if first else None,
                )
            )
            position += length
            first = False
    furniture = text.find("share icon")
    if furniture != -1:
        row = furniture // width
        axis.axhline(-row, color="#495057", linewidth=0.8, linestyle="--")
        axis.annotate(
            "page furniture below (not part of the article)",
            (width, -row),
            xytext=(4, -8),
            textcoords="offset points",
            fontsize=7,
            ha="right",
        )
    for table, colour in colours.items():
        axis.add_patch(Rectangle((0, 0), 0, 0, color=colour, label=table.replace("_", " ")))
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=4, frameon=False, fontsize=8)
    axis.set_xlim(0, width)
    axis.set_ylim(-rows - 0.5, 0.5)
    axis.axis("off")
    axis.set_title(
        f"Evidence map: {len(cited)} cited spans over the {len(text)} code points of the text "
        f"({width} per row; a span is coloured by the last table citing it)",
        loc="left",
        fontsize=10,
    )
    _save(figure, path)
    plt.close(figure)


def draw_all(destination: str | Path, path: str | Path | None = None) -> list[Path]:
    """Write every figure into ``destination`` from this version's data (or the package at ``path``)."""
    from .boundary import DEFAULT_LIMITS, package_text
    from .loading import _root, _specs, load

    root = _root(path)
    tables = load(root)
    citing = {name: spec.references("spans") for name, (spec, _) in _specs(root).items() if name != "spans"}
    source = tables["sources"].iloc[0]
    # read before drawing, so that a refused text (Refused: exit 2) leaves no figure half-made
    text = package_text(
        root, source["text_path"], what="text_path", limit=DEFAULT_LIMITS.max_text_bytes, listed_in="data/sources.csv"
    )
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    timeline(tables, destination / "timeline.svg")
    network(tables, destination / "network.svg")
    first_source = tables["spans"][tables["spans"]["source_id"] == source["source_id"]]
    citing = {name: columns for name, columns in citing.items() if columns}
    evidence_map({**tables, "spans": first_source}, citing, text, destination / "evidence-map.svg")
    return [destination / name for name in FIGURES]
