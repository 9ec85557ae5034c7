"""Leads' part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from arkops.clock import iso
from arkops.core.leads.scoring import glances
from arkops.core.sections import Chart, Figure, Section, formats, table
from arkops.runtime import Runtime

DAY = timedelta(hours=24)
TOP_SOURCES = 8


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    """Leads seen in the last 24 h, and how many of them are hot (scored over every stored visit)."""
    fmt = formats(rt)
    since = iso(now - DAY) or ""
    threshold = rt.config["leads"]["hot_score"]
    recent = hot = 0
    for glance in glances(rt, now=now, since=since):  # no record read, only the last day's: the summaries say enough
        if glance.last >= since:
            recent += 1
            hot += glance.hot(threshold)
    figures = [
        Figure("hot_24h", "Hot leads, 24 h", hot, fmt.number(hot), note="see `arkops leads list --hot`"),
        Figure("leads_24h", "Leads seen, 24 h", recent, fmt.number(recent)),
    ]
    return [Section("leads", "Leads", figures)]


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    """The status figures, then the top sources of the leads of the period (as far back as visits are kept)."""
    fmt = formats(rt)
    since = max(now - timedelta(days=round(months * 30.44)), now - timedelta(days=rt.config["leads"]["retention_days"]))
    threshold = rt.config["leads"]["hot_score"]
    start = iso(since) or ""
    counts: Counter[str] = Counter()
    hot: Counter[str] = Counter()
    for glance in glances(rt, now=now, since=start):  # no record read: the summaries hold the first source
        if glance.last >= start:
            source = glance.source()
            counts[source] += 1
            hot[source] += glance.hot(threshold)
    top = sorted(counts, key=lambda s: (-counts[s], s))[:TOP_SOURCES]
    rows = [{"source": s, "leads": counts[s], "hot": hot[s]} for s in top]
    charts = []
    if rows:
        charts.append(
            Chart(
                "lead_sources",
                "Top lead sources",
                "bars",
                top,
                {"leads": [counts[s] for s in top], "hot": [hot[s] for s in top]},
                "count",
                f"{sum(counts.values())} leads; the most from {top[0]} ({counts[top[0]]}, {hot[top[0]]} hot).",
            )
        )
    sources = table(
        "lead_sources",
        "Top lead sources",
        [("source", "Source"), ("leads", "Leads"), ("hot", "Hot")],
        rows,
        {"leads": fmt.number, "hot": fmt.number},
        empty="no lead in this period",
    )
    shown = status(rt, now=now)[0]
    return [Section("leads", "Leads", shown.figures, charts=charts, tables=[sources])]
