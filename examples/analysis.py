"""The article's own question, answered from the typed tables: what did officials say about
drug *demand*, and what was done, or not done, about it?

1. Who is quoted on demand, and who on supply?
2. What the events say was done, and what the text says was *not* done (negative polarity).
3. The claims about demand and about supply: who makes them, and how firmly.

Run: python examples/analysis.py   (after: pip install -e .)

The demand and supply word lists are this example's analytic choice, not part of the data:
a quote, event or claim counts for a side when its words contain one of that side's terms.
"""

from __future__ import annotations

import re

import pandas as pd

import uslatam

DEMAND_TERMS = ("demand", "market", "consumption", "users", "addicted", "addiction", "drug epidemic", "treatment")
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
    "interdiction",
    "eradication",
    "wall",
    "prosecuting",
)


def mentions(words: str, terms: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(term)}", words, re.IGNORECASE) for term in terms)


def side(words: str) -> str:
    demand, supply = mentions(words, DEMAND_TERMS), mentions(words, SUPPLY_TERMS)
    return "both" if demand and supply else "demand" if demand else "supply" if supply else "neither"


def demand_and_supply(tables: dict) -> pd.DataFrame:
    """Quotes (repeats counted once) per speaker that speak of demand, of supply."""
    quotes = uslatam.quotes_view(tables)
    quotes = quotes[quotes["repeats_quote_id"].isna()].copy()
    quotes["demand"] = quotes["words"].map(lambda w: mentions(w, DEMAND_TERMS))
    quotes["supply"] = quotes["words"].map(lambda w: mentions(w, SUPPLY_TERMS))
    summary = quotes.groupby("speaker")[["demand", "supply"]].sum().astype(int)
    summary["quotes"] = quotes.groupby("speaker").size()
    return summary.sort_index()


def done_and_not_done(tables: dict) -> pd.DataFrame:
    """Proposals, pledges, appeals and statements, by side, split by what the text says happened or did not."""
    events = tables["events"].copy()
    events = events[events["event_type"].isin(["policy_proposal", "policy_intention", "pledge", "appeal", "statement"])]
    events["side"] = (events["summary"] + " " + events["object_as_written"].fillna("")).map(side)
    events["done"] = events["polarity"].map({"affirmative": "done", "negative": "not done"})
    return events[["done", "side", "event_type", "summary"]].sort_values(["done", "side", "event_type"])


def claims_by_side(tables: dict) -> pd.DataFrame:
    """Claims about demand or supply, with who makes them and how firmly."""
    claims = uslatam.claims_view(tables).copy()
    claims["side"] = claims["summary"].map(side)
    claims["by"] = claims["asserted_by"].astype("string").fillna("(the article)")
    claims = claims[claims["side"] != "neither"]
    columns = ["side", "by", "claim_type", "certainty", "aspiration", "polarity", "summary"]
    return claims[columns].sort_values(["side", "by", "summary"])


def main() -> None:
    tables = uslatam.load()
    pd.set_option("display.width", 220)
    pd.set_option("display.max_colwidth", 90)
    print("Who is quoted on demand, and who on supply (number of quotes)")
    print(demand_and_supply(tables).to_string())
    print()
    print("What was done, and what the text says was not done")
    print(done_and_not_done(tables).to_string(index=False))
    print()
    print("Claims about demand and supply: who, how firmly")
    print(claims_by_side(tables).to_string(index=False))


if __name__ == "__main__":
    main()
