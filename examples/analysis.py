"""Two questions a researcher asks of the data, answered from the typed tables.

1. Who is quoted on drug *demand*, and who on *supply*?
2. Which trend claims are hedged, and who makes them?

Run: python examples/analysis.py   (after: pip install -e .)

The demand and supply word lists are this example's analytic choice, not part of the data:
a quote counts for a side when its words contain one of that side's terms.
"""

from __future__ import annotations

import re

import pandas as pd

import uslatam

DEMAND_TERMS = ("demand", "market", "consumption", "users", "addicted", "addiction", "drug epidemic")
SUPPLY_TERMS = (
    "production",
    "cultivation",
    "coca",
    "cartels",
    "flow of drugs",
    "cross-border flow",
    "weapons",
    "cash flow",
    "business model",
    "trafficking",
)


def mentions(words: str, terms: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(term)}", words, re.IGNORECASE) for term in terms)


def demand_and_supply(tables: dict) -> pd.DataFrame:
    """Quotes (repeats counted once) per speaker that speak of demand, of supply."""
    quotes = uslatam.quotes_view(tables)
    quotes = quotes[quotes["repeats_quote_id"].isna()].copy()
    quotes["demand"] = quotes["words"].map(lambda w: mentions(w, DEMAND_TERMS))
    quotes["supply"] = quotes["words"].map(lambda w: mentions(w, SUPPLY_TERMS))
    summary = quotes.groupby("speaker")[["demand", "supply"]].sum().astype(int)
    summary["quotes"] = quotes.groupby("speaker").size()
    return summary.sort_index()


def hedged_claims(tables: dict) -> pd.DataFrame:
    """Trend claims not simply asserted, with who makes them and their words."""
    claims = tables["trend_claims"]
    spans = tables["spans"].set_index("span_id")["exact"]
    names = tables["entities"].set_index("entity_id")["name"]
    hedged = claims[claims["modality"] != "asserted"].copy()
    hedged["claimed_by"] = hedged["asserted_by_entity_id"].map(names).fillna(hedged["attribution_as_written"])
    hedged["words"] = hedged["span_id"].map(spans)
    return hedged[["subject", "direction", "modality", "claimed_by", "words"]].sort_values(["modality", "subject"])


def main() -> None:
    tables = uslatam.load()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 70)
    print("Who is quoted on demand, and who on supply (number of quotes)")
    print(demand_and_supply(tables).to_string())
    print()
    print("Hedged trend claims")
    print(hedged_claims(tables).to_string(index=False))


if __name__ == "__main__":
    main()
