"""The weekly report email: the report's sections to the operator, once per ISO week (job `weekly-email`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from arkops.clock import parse_iso
from arkops.core.sections import formats
from arkops.runtime import Runtime

REPORT_MONTHS = 12


@dataclass
class WeeklyOutcome:
    period: str
    queued: bool

    def summary(self) -> str:
        return f"weekly report {self.period} " + ("queued" if self.queued else "already queued")

    def counts(self) -> dict[str, int]:
        return {"queued": int(self.queued)}


def reported_week(rt: Runtime, now: datetime) -> tuple[str, datetime, datetime]:
    """The ISO week before the one holding `now` (local): its name and its start and end."""
    from arkops.core.trials.sections import iso_week, week_start

    end = week_start(now, rt.config.tz)
    start = week_start(end - timedelta(days=1), rt.config.tz)
    return iso_week(start, rt.config.tz), start, end


def weekly_variables(rt: Runtime, *, now: datetime) -> tuple[str, dict[str, Any]]:
    from arkops.core.operator.html import report_sections
    from arkops.core.trials.queries import list_trials

    period, start, end = reported_week(rt, now)
    sections = report_sections(rt, now=now, months=REPORT_MONTHS)
    fmt = formats(rt)
    month, nrr, quick_ratio = week_retention(rt, now=now, week_end=end)
    revenue = next((s for s in sections if s.key == "revenue"), None)
    mrr = revenue.figure("mrr") if revenue else None
    revenue_chart = next((c for c in revenue.charts if c.key == "revenue"), None) if revenue else None
    trials = list_trials(rt, state=None, now=now, archived=True)

    def within(moment: str | None) -> bool:
        return moment is not None and start <= parse_iso(moment) < end

    return period, {
        "period": period,
        "mrr": mrr.text if mrr else fmt.money(0),
        "revenue": fmt.money(revenue_chart.series["revenue"][-1]) if revenue_chart else fmt.money(0),
        "new_trials": sum(within(t["signed_up_at"]) for t in trials),
        "conversions": sum(within(t["converted_at"]) for t in trials),
        "retention_month": month,
        "nrr": fmt.percent(nrr),
        "quick_ratio": fmt.ratio(quick_ratio),
        "sections": sections,  # rendered by templates/_sections.html and _sections.txt
    }


def week_retention(rt: Runtime, *, now: datetime, week_end: datetime) -> tuple[str, float | None, float | None]:
    """The NRR and quick ratio of the week's month (the local month of its last day: to its end, or to now when
    it is the current one), from the billing report (docs/billing.md, "Retention")."""
    from arkops.core.billing.report import build_report

    month = (week_end - timedelta(days=1)).astimezone(rt.config.tz).strftime("%Y-%m")
    rows = build_report(rt, now=now, months=REPORT_MONTHS)["months"]
    row = next((r for r in rows if r["month"] == month), None)
    return month, row["nrr"] if row else None, row["quick_ratio"] if row else None


def send_weekly(rt: Runtime, *, now: datetime) -> WeeklyOutcome:
    """Queue the weekly report for the operator; the key names the ISO week, so a week gets one email."""
    from arkops.core.notify import notify

    period, variables = weekly_variables(rt, now=now)
    queued = notify(rt, "weekly_report", variables, key=f"weekly-report:{period}", now=now)
    return WeeklyOutcome(period, any(q.created for q in queued))
