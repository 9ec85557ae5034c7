"""Trials' part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, tzinfo
from typing import Any

from arkops.clock import parse_iso
from arkops.core.sections import Chart, Figure, Section, formats, table
from arkops.core.trials.queries import list_trials
from arkops.core.trials.state import STATES
from arkops.runtime import Runtime


def week_start(moment: datetime, tz: tzinfo) -> datetime:
    """Monday 00:00 (local) of the week holding `moment`."""
    local = moment.astimezone(tz)
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def iso_week(moment: datetime, tz: tzinfo) -> str:
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    trials = list_trials(rt, state=None, now=now)
    fmt = formats(rt)
    tz = rt.config.tz
    states = Counter(t["state"] for t in trials)
    monday = week_start(now, tz)
    last_monday = week_start(monday - timedelta(days=1), tz)

    def count(field: str, start: datetime, end: datetime) -> int:
        return sum(t[field] is not None and start <= parse_iso(t[field]) < end for t in trials)

    def weekly(key: str, label: str, value: int, start: datetime) -> Figure:
        return Figure(key, label, value, fmt.number(value), note=f"{iso_week(start, tz)}, from {local_day(start, tz)}")

    figures = [
        Figure(f"state_{s}", s.replace("_", " "), states.get(s, 0), fmt.number(states.get(s, 0))) for s in STATES
    ]
    later = now + timedelta(seconds=1)
    figures += [
        weekly("signups_this_week", "Signups this week", count("signed_up_at", monday, later), monday),
        weekly("activations_this_week", "Activations this week", count("activated_at", monday, later), monday),
        weekly("signups_last_week", "Signups last week", count("signed_up_at", last_monday, monday), last_monday),
        weekly(
            "conversions_last_week", "Conversions last week", count("converted_at", last_monday, monday), last_monday
        ),
    ]
    return [Section("trials", "Trials", figures, note=f"{len(trials)} trials in their lifecycle")]


def local_day(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%a %Y-%m-%d")


def cohorts(trials: list[dict[str, Any]], tz: tzinfo, since: datetime) -> list[dict[str, Any]]:
    """Signups per week (local, Monday first) and what became of them: activated, converted."""
    weeks: dict[str, dict[str, Any]] = {}
    for trial in trials:
        signed = parse_iso(trial["signed_up_at"])
        if signed < since:
            continue
        row = weeks.setdefault(
            iso_week(signed, tz), {"week": iso_week(signed, tz), "signups": 0, "activated": 0, "converted": 0}
        )
        row["signups"] += 1
        row["activated"] += trial["activated_at"] is not None
        row["converted"] += trial["converted_at"] is not None
    rows = [weeks[key] for key in sorted(weeks)]
    for row in rows:
        row["activation_rate"] = round(row["activated"] / row["signups"], 4)
        row["conversion_rate"] = round(row["converted"] / row["signups"], 4)
    return rows


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    trials = list_trials(rt, state=None, now=now, archived=True)
    fmt = formats(rt)
    tz = rt.config.tz
    since = week_start(now - timedelta(days=round(months * 30.44)), tz)
    rows = cohorts(trials, tz, since)
    shown = status(rt, now=now)[0]
    rate = {"activation_rate": fmt.percent, "conversion_rate": fmt.percent}
    cohort_table = table(
        "cohorts",
        "Trial cohorts by signup week",
        [
            ("week", "Week"),
            ("signups", "Signups"),
            ("activated", "Activated"),
            ("activation_rate", "Activation"),
            ("converted", "Converted"),
            ("conversion_rate", "Conversion"),
        ],
        rows,
        rate,
        empty="no signup in this period",
    )
    charts = []
    if rows:
        total = sum(r["signups"] for r in rows)
        charts.append(
            Chart(
                "cohorts",
                "Signups per week, activated and converted",
                "bars",
                [r["week"] for r in rows],
                {key: [r[key] for r in rows] for key in ("signups", "activated", "converted")},
                "count",
                f"{total} signups in {len(rows)} weeks; {sum(r['activated'] for r in rows)} activated, "
                f"{sum(r['converted'] for r in rows)} converted.",
            )
        )
    return [Section("trials", "Trials", shown.figures, charts=charts, tables=[cohort_table], note=shown.note)]
