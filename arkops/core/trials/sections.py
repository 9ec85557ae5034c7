"""Trials' part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, tzinfo
from typing import Any

from arkops.clock import iso, parse_iso
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
    states = Counter(t["state"] for t in trials)
    monday = week_start(now, rt.config.tz)

    def this_week(moment: str | None) -> bool:
        return moment is not None and monday <= parse_iso(moment) <= now

    activations = sum(this_week(t["activated_at"]) for t in trials)
    signups = sum(this_week(t["signed_up_at"]) for t in trials)
    figures = [
        Figure(f"state_{s}", s.replace("_", " "), states.get(s, 0), fmt.number(states.get(s, 0))) for s in STATES
    ]
    figures += [
        Figure("signups_this_week", "Signups this week", signups, fmt.number(signups), note=f"since {iso(monday)}"),
        Figure(
            "activations_this_week",
            "Activations this week",
            activations,
            fmt.number(activations),
            note=f"since {iso(monday)}",
        ),
    ]
    return [Section("trials", "Trials", figures, note=f"{len(trials)} trials in their lifecycle")]


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
