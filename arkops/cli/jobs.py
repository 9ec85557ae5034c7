"""`arkops run`, `arkops jobs`, `arkops cron print`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arkops.cli._output import FORMAT_HELP, ColumnsOption, Format, emit_json, emit_rows, group, one_of, runtime

if TYPE_CHECKING:
    from arkops.core.jobs.runner import JobResult
    from arkops.runtime import Runtime

cron_app = group("Cron: the crontab line for this installation.")


class RunFormat(StrEnum):
    table = "table"
    json = "json"


def _worth_a_line(rt: Runtime, result: JobResult) -> bool:
    """What a tick prints: a failure always; a job that did something or was locked out, unless --quiet; the
    others (not due, nothing to do, disabled) only with --verbose. A tick with nothing due prints nothing."""
    if result.status == "failed" or rt.verbose:
        return True
    return not rt.quiet and (result.did_something or result.locked)


def run(
    ctx: typer.Context,
    *,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Run only this job (still only when due, unless --force).",
            **one_of("arkops.cli._output:job_names"),
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Ignore the schedule: run now.")] = False,
    format: Annotated[
        RunFormat, typer.Option("--format", help="table: a line per job that did something; json: every job.")
    ] = RunFormat.table,
) -> None:
    """Run every job that is due: the one cron entry (exit 0 ok, 1 a job failed, 75 all locked).

    Interval jobs run once per aligned slot, daily jobs once a local day after
    their time. Each job holds its own lock (one still running from the last
    tick is skipped, the others run) and records its outcome (`arkops jobs`).
    It prints one line per job that did something, failed or found its lock
    taken, and nothing when nothing was due (-v: every job, -q: failures
    only); `--format json` gives every job of the tick with its outcome,
    counts and duration. `arkops cron print` gives the crontab line.

    Example: arkops run --only trials-track --force
    """
    from arkops.clock import iso
    from arkops.core.jobs.runner import run_due

    rt = runtime(ctx)
    now = rt.now()
    report = run_due(rt, now=now, only=only, force=force)
    if format is RunFormat.json:
        emit_json(
            {"as_of": iso(now), "exit_code": int(report.exit_code), "jobs": [r.as_dict() for r in report.results]}
        )
        raise typer.Exit(report.exit_code)
    shown = [result for result in report.results if _worth_a_line(rt, result)]
    width = max((len(r.name) for r in shown), default=0)
    for result in shown:
        timing = f"  {result.seconds:.1f} s" if result.status != "skipped" else ""
        print(f"{result.name:<{width}}  {result.status:<7}  {result.detail}{timing}")
    raise typer.Exit(report.exit_code)


def jobs(
    ctx: typer.Context,
    *,
    next: Annotated[
        bool, typer.Option("--next", help="What the next tick would run and why (nothing is run).")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """List jobs with their schedule, last run and outcome; --next: what `arkops run` would run now, and why.

    Example: arkops jobs --next
    """
    from arkops.core.jobs.runner import list_jobs, next_tick

    rt = runtime(ctx)
    if next:
        emit_rows(next_tick(rt, now=rt.now()), format, ["job", "runs", "why"], chosen=columns)
        return
    emit_rows(
        list_jobs(rt, now=rt.now()),
        format,
        None
        if format is Format.json
        else ["job", "schedule", "last_start", "outcome", "detail", "consecutive_failures", "next_due"],
        drop=("consecutive_failures", "last_start", "schedule", "detail"),
        chosen=columns,
    )


def retention(
    ctx: typer.Context,
    *,
    rebuild_summaries: Annotated[
        bool,
        typer.Option(
            "--rebuild-summaries",
            help="Make every archive month's summary again from its month file (reports and the funnel read them).",
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
    log: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Where cron appends the output (default: logs/arkops.log beside arkops.toml)."
        ),
    ] = None,
    every: Annotated[int, typer.Option(help="Minutes between ticks.", min=1, max=59)] = 5,
) -> None:
    """Print the crontab line for this installation (absolute paths to arkops, folder, env file, log).

    The log's folder must exist and be writable (`arkops init` makes logs/,
    mode 0700): cron cannot start a command whose output file it cannot
    open. docs/jobs.md has a logrotate rule for it.

    Example: arkops cron print | crontab -
    """
    from arkops.core.jobs.cronline import cron_line

    rt = runtime(ctx)
    print(cron_line(rt, log=log or rt.config_path.parent / "logs" / "arkops.log", every=every))
