"""`arkops trials ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    AtOption,
    ColumnsOption,
    Format,
    PlanOption,
    emit_json,
    emit_line,
    emit_rows,
    group,
    progress,
    runtime,
    say,
)
from arkops.core.trials import TrialState
from arkops.errors import ExitCode
from arkops.text import Locale, counted

app = group("Trials: signups, activity, activation, conversion and lifecycle emails.")
FormatOption = Annotated[Format, typer.Option("--format", help=FORMAT_HELP)]


@app.command("signup")
def trials_signup(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The trial's email address.")],
    *,
    plan: PlanOption,
    source: Annotated[str | None, typer.Option(help="utm source or referrer.")] = None,
    locale: Annotated[Locale | None, typer.Option(help="The customer's language for emails.")] = None,
    at: AtOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Take an address that looks mistyped (did you mean ...?) as it is.")
    ] = False,
) -> None:
    """Record a trial signup (idempotent: the first signup of an email wins).

    Example: arkops trials signup ana@example.com --plan pro --source newsletter
    """
    from arkops.core.trials.records import signup

    rt = runtime(ctx)
    created = signup(rt, email, plan, source=source, at=at, locale=locale, now=rt.now(), force=force)
    say(rt, "trial recorded" if created else "trial already recorded")


@app.command("activity")
def trials_activity(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The trial's email address.")],
    *,
    kind: Annotated[str, typer.Option("--kind", help="What was done, e.g. watch_created or api_call.")],
    count: Annotated[int, typer.Option(help="How many.", min=1, max=1_000_000)] = 1,
    at: AtOption = None,
) -> None:
    """Record product use by a trial (the first one activates it).

    Example: arkops trials activity ana@example.com --kind watch_created --count 3
    """
    from arkops.core.trials.records import activity

    rt = runtime(ctx)
    added = activity(rt, email, kind, count=count, at=at, now=rt.now())
    say(rt, "activity recorded" if added else "activity already recorded")


@app.command("import")
def trials_import(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="JSON files from the web app (signups, activity).")
    ],
) -> None:
    """Import the web app's signup and activity files; malformed records are skipped and reported (exit 3).

    Example: arkops trials import app/signups.json app/activity.json
    """
    from arkops.core.trials.records import import_files

    rt = runtime(ctx)
    with progress(rt) as shown:
        report = import_files(rt, files, now=rt.now(), progress=shown)
    for line in report.skipped:
        say(rt, f"skipped {line}")
    say(
        rt,
        f"trials import: {counted(report.signups, 'signup')}, {counted(report.activities, 'activity', 'activities')}, "
        f"{report.duplicates} already present, {len(report.skipped)} skipped"
        + (
            f", {counted(report.after_archive, 'activity', 'activities')} of archived trials not recorded"
            if report.after_archive
            else ""
        )
        + (f", {counted(report.erased, 'record')} of erased people not recorded" if report.erased else ""),
    )
    raise typer.Exit(ExitCode.BAD_DATA if report.skipped else ExitCode.OK)


@app.command("list")
def trials_list(
    ctx: typer.Context,
    *,
    state: Annotated[TrialState | None, typer.Option(help="Only trials in this state.")] = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="Include finished trials moved to archive/trials/ by retention.")
    ] = False,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Trials with their state, dates, days left and activity (finished ones with --archived).

    Example: arkops trials list --state active --format json
    """
    from arkops.core.trials.queries import list_trials

    rt = runtime(ctx)
    emit_rows(
        list_trials(rt, state=state, now=rt.now(), archived=archived),
        format,
        chosen=columns,
        drop=("source", "activated_at", "converted_at", "trial_ends_at", "activity"),
        columns=[
            "email",
            "plan",
            "source",
            "state",
            "signed_up_at",
            "trial_ends_at",
            "activated_at",
            "converted_at",
            "days_left",
            "activity",
        ],
    )


@app.command("show")
def trials_show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The trial's email address.")],
    *,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """One trial's timeline: signup, activity, emails, conversion.

    Example: arkops trials show ana@example.com
    """
    from arkops.core.trials.queries import show

    rt = runtime(ctx)
    result = show(rt, email, now=rt.now())
    if format is Format.json:
        emit_json(result)
        return
    trial = result["trial"]
    if format is Format.table:
        emit_line(f"{trial['email']}: {trial['state']}, plan {trial['plan']}, {trial['days_left']} days left")
    emit_rows(result["timeline"], format, ["at", "what", "detail"], chosen=columns)


@app.command("track")
def trials_track(
    ctx: typer.Context,
    *,
    summary: Annotated[
        bool, typer.Option("--summary", help="Also print the digest: last 24 h and 7 d, rates, time to convert.")
    ] = False,
    format: FormatOption = Format.table,
) -> None:
    """Detect new activations, conversions and expirations; alert the operator once each (cron: every 10 min).

    Example: arkops trials track --summary
    """
    from arkops.core.trials.lifecycle import track
    from arkops.core.trials.queries import summary as build_summary

    rt = runtime(ctx)
    now = rt.now()
    report = track(rt, now=now)
    say(rt, f"trials track: {report.summary()}")
    if summary:
        digest = build_summary(rt, now=now)
        if format is Format.json:
            emit_json(digest)
        else:
            from arkops.core.sections import formats

            pct = formats(rt).percent
            day, week = digest["last_24h"], digest["last_7d"]
            median = digest["median_days_activation_to_conversion"]
            print(
                f"24 h: {counted(day['signups'], 'signup')}, {counted(day['activations'], 'activation')}, "
                f"{counted(day['conversions'], 'conversion')} | "
                f"7 d: {counted(week['signups'], 'signup')}, {counted(week['activations'], 'activation')}, "
                f"{counted(week['conversions'], 'conversion')} | "
                f"activation {pct(digest['activation_rate'])}, trial -> paid {pct(digest['trial_to_paid_rate'])}, "
                f"avg activity {digest['average_activity'] if digest['average_activity'] is not None else 'n/a'}, "
                f"median activation -> conversion {'n/a' if median is None else f'{median} days'}"
            )


@app.command("nudge")
def trials_nudge(ctx: typer.Context) -> None:
    """Queue the lifecycle emails that are due (day 0, 1, 7, 12, 14), each once per trial (cron: daily).

    Example: arkops trials nudge
    """
    from arkops.core.trials.lifecycle import nudge

    rt = runtime(ctx)
    report = nudge(rt, now=rt.now())
    say(rt, f"trials nudge: {report.summary()}")
