"""Plans and usage's part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`):
MRR by plan, and customers near their quotas."""

from __future__ import annotations

from datetime import datetime

from arkops.core.plans import USAGE_DB
from arkops.core.plans.usage import current_usage
from arkops.core.sections import Chart, Figure, Section, formats, table
from arkops.runtime import Runtime


def _over(row: dict, percent: int) -> bool:
    """At or above `percent` of the limit, counted as `usage report` counts (whole units, no rounding)."""
    return bool(row["limit"]) and row["used"] * 100 >= percent * row["limit"]


GRAPH_MONTHS = 12


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    sections = _plans(rt, now=now, months=GRAPH_MONTHS, with_table=False)
    if rt.store.path(USAGE_DB).exists():
        sections.append(_section(rt, current_usage(rt, now=now), with_table=False))
    return sections


def _plans(rt: Runtime, *, now: datetime, months: int, with_table: bool) -> list[Section]:
    """MRR by plan as stacked areas (and, in the report, each plan's figures now); none without a ledger."""
    from arkops.core.billing import LEDGER_DB
    from arkops.core.plans.revenue import by_plan

    if not rt.store.path(LEDGER_DB).exists():
        return []
    report = by_plan(rt, now=now, months=months)
    segments = [s for s in report["segments"] if any(m["mrr"] for m in s["months"])]
    if not segments:
        return []
    fmt = formats(rt)
    labels = [m["month"] for m in segments[0]["months"]]
    now_text = ", ".join(f"{s['name']} {fmt.money(s['mrr'])}" for s in segments)
    chart = Chart(
        "mrr_by_plan",
        "MRR by plan",
        "area",
        labels,
        {s["name"]: [m["mrr"] for m in s["months"]] for s in segments},
        "money",
        f"MRR by plan from {labels[0]} to {labels[-1]}, stacked; in {labels[-1]}: {now_text}.",
        currency=report["currency"],
    )
    tables = []
    if with_table:
        tables.append(
            table(
                "plans",
                f"Plans in {labels[-1]}",
                [("name", "Plan"), ("mrr", "MRR"), ("customers", "Customers"), ("arpu", "ARPU")],
                segments,
                {"mrr": fmt.money, "arpu": fmt.money, "customers": fmt.number},
            )
        )
    return [Section("plans", "Plans", charts=[chart], tables=tables)]


def _section(rt: Runtime, rows: list[dict], *, with_table: bool) -> Section:
    fmt = formats(rt)
    hot = sorted((r for r in rows if _over(r, 80)), key=lambda r: (-r["used"] / r["limit"], r["email"], r["metric"]))
    over_80 = len({r["email"] for r in hot})
    over_100 = len({r["email"] for r in hot if _over(r, 100)})
    figures = [
        Figure("customers_over_80", "Customers above 80 % of a quota", over_80, fmt.number(over_80)),
        Figure("customers_at_100", "Customers at 100 %", over_100, fmt.number(over_100)),
    ]
    tables = []
    if with_table:
        tables.append(
            table(
                "quota_hot_spots",
                "Quota hot spots (80 % and more this period)",
                [
                    ("email", "Customer"),
                    ("plan", "Plan"),
                    ("metric", "Metric"),
                    ("used", "Used"),
                    ("limit", "Limit"),
                    ("percent", "Of limit"),
                ],
                hot,
                {"used": fmt.number, "limit": fmt.number, "percent": lambda v: fmt.percent(v / 100)},
                empty="no customer near a limit",
            )
        )
    return Section("usage", "Usage", figures, tables=tables)


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    sections = _plans(rt, now=now, months=months, with_table=True)
    if rt.store.path(USAGE_DB).exists():
        sections.append(_section(rt, current_usage(rt, now=now), with_table=True))
    return sections
