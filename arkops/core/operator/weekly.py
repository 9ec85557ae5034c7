"""The weekly report email: the report's sections to the operator, once per ISO week (job `weekly-email`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from arkops.core.sections import Section, formats
from arkops.runtime import Runtime

REPORT_MONTHS = 12
JOB = "weekly-email"


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


# The email's first lines: these figures of the report's sections, as `arkops status` shows them.
HEADLINE = (
    ("revenue", "mrr"),
    ("revenue", "revenue_month"),
    ("trials", "signups_last_week"),
    ("trials", "conversions_last_week"),
)


def weekly_sections(rt: Runtime, *, now: datetime) -> list[Section]:
    """The report's sections as the weekly email shows them: the jobs without `weekly-email` itself, which is
    running while they are read (the tick's other jobs have run: it is the last job of a tick)."""
    from arkops.core.operator.html import report_sections

    return [
        replace(section, tables=[table.without("job", JOB) for table in section.tables])
        if section.key == "jobs"
        else section
        for section in report_sections(rt, now=now, months=REPORT_MONTHS)
    ]


def weekly_variables(rt: Runtime, *, now: datetime) -> tuple[str, dict[str, Any]]:
    period, _, end = reported_week(rt, now)
    sections = weekly_sections(rt, now=now)
    by_key = {section.key: section for section in sections}
    headline = [
        figure
        for section_key, figure_key in HEADLINE
        if section_key in by_key and (figure := by_key[section_key].figure(figure_key)) is not None
    ]
    shown = {figure.key: figure for figure in headline}
    fmt = formats(rt)
    month, nrr, quick_ratio = week_retention(rt, now=now, week_end=end)

    def text(key: str, empty: str) -> str:
        return shown[key].text if key in shown else empty

    return period, {
        "period": period,
        "headline": headline,  # the figures above, each with its label and text
        "mrr": text("mrr", fmt.money(0)),
        "revenue": text("revenue_month", fmt.money(0)),
        "new_trials": shown["signups_last_week"].value if "signups_last_week" in shown else 0,
        "conversions": shown["conversions_last_week"].value if "conversions_last_week" in shown else 0,
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
