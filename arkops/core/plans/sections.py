"""Plans and usage's part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`)."""

from __future__ import annotations

from datetime import datetime

from arkops.core.plans import USAGE_DB
from arkops.core.plans.usage import current_usage
from arkops.core.sections import Figure, Section, formats, table
from arkops.runtime import Runtime


def _over(row: dict, percent: int) -> bool:
    """At or above `percent` of the limit, counted as `usage report` counts (whole units, no rounding)."""
    return bool(row["limit"]) and row["used"] * 100 >= percent * row["limit"]


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    if not rt.store.path(USAGE_DB).exists():
        return []
    return [_section(rt, current_usage(rt, now=now), with_table=False)]


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
    if not rt.store.path(USAGE_DB).exists():
        return []
    return [_section(rt, current_usage(rt, now=now), with_table=True)]
