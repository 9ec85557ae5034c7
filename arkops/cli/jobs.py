"""`arkops run`, `arkops jobs`, `arkops cron print`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arkops.cli._output import FORMAT_HELP, Format, emit_rows, group, runtime

cron_app = group("Cron: the crontab line for this installation.")


def run(
    ctx: typer.Context,
    *,
    only: Annotated[
        str | None, typer.Option("--only", help="Run only this job (still only when due, unless --force).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Ignore the schedule: run now.")] = False,
) -> None:
    """Run every job that is due: the one cron entry (exit 0 ok, 1 a job failed, 75 all locked).

    Interval jobs run once per aligned slot, daily jobs once a local day after
    their time. Each job holds its own lock (one still running from the last
    tick is skipped, the others run) and records its outcome (`arkops jobs`).
    `arkops cron print` gives the crontab line.

    Example: arkops run --only trials-track --force
    """
    from arkops.core.jobs.runner import run_due

    rt = runtime(ctx)
    report = run_due(rt, now=rt.now(), only=only, force=force)
    width = max((len(r.name) for r in report.results), default=0)
    for result in report.results:
        timing = f"  {result.seconds:.1f} s" if result.status != "skipped" else ""
        print(f"{result.name:<{width}}  {result.status:<7}  {result.detail}{timing}")
    raise typer.Exit(report.exit_code)


def jobs(
    ctx: typer.Context, *, format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table
) -> None:
    """List jobs with their schedule, last run and outcome.

    Example: arkops jobs --format json
    """
    from arkops.core.jobs.runner import list_jobs

    rt = runtime(ctx)
    emit_rows(
        list_jobs(rt, now=rt.now()),
        format,
        None
        if format is Format.json
        else ["job", "schedule", "last_start", "outcome", "detail", "consecutive_failures", "next_due"],
    )


def retention(
    ctx: typer.Context,
    *,
    rebuild_summaries: Annotated[
        bool,
        typer.Option(
            "--rebuild-summaries",
            help="Make every archive month's summary again from its month file (the reports read summaries).",
        ),
    ] = False,
) -> None:
    """Apply the retention rules now: archive finished trials and sent mail, drop old bodies and event ids.

    The daily `retention` job runs the same rules at 03:30. With --dry-run it
    only counts what it would move or remove. Safe to interrupt and run again.

    Example: arkops retention --rebuild-summaries
    """
    from arkops.core.jobs.retention import run_now

    rt = runtime(ctx)
    print(run_now(rt, now=rt.now(), rebuild_summaries=rebuild_summaries).summary())


@cron_app.command("print")
def cron_print(
    ctx: typer.Context,
    *,
    log: Annotated[Path, typer.Option(help="Where cron appends the output.")] = Path("/var/log/arkops.log"),
    every: Annotated[int, typer.Option(help="Minutes between ticks.", min=1, max=59)] = 5,
) -> None:
    """Print the crontab line for this installation (absolute paths to arkops, folder, env file).

    Example: arkops cron print | crontab -
    """
    from arkops.core.jobs.cronline import cron_line

    print(cron_line(runtime(ctx), log=log, every=every))
