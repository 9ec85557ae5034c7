"""`arkops crm ...`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    TIME_FORMS,
    Format,
    Moment,
    emit_json,
    emit_rows,
    group,
    progress,
    runtime,
    say,
)
from arkops.errors import ExitCode

app = group("CRM: push trials, hot leads and customers to HubSpot or Pipedrive.")


@app.command("setup")
def crm_setup(ctx: typer.Context) -> None:
    """Create the arkops custom fields in the CRM (idempotent) and print what was created.

    Example: arkops crm setup
    """
    from arkops.core.crm.push import setup

    rt = runtime(ctx)
    created = setup(rt)
    for name in created:
        print(f"created {name}")
    say(rt, f"crm setup: {len(created)} created" if created else "crm setup: everything was already there")


@app.command("push")
def crm_push(
    ctx: typer.Context,
    *,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help=f"Also send again everyone whose records moved since: {TIME_FORMS}.",
            parser=Moment(),
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count who and what would be sent; call nothing, write nothing.")
    ] = False,
) -> None:
    """Send the people who changed since the last push, then their new notes (cron: crm-sync, every 15 min).

    Exit 4 when the CRM failed or a rate limit stopped the push (the next run resumes).

    Example: arkops crm push --dry-run
    """
    from arkops.core.crm.push import push_now

    rt = runtime(ctx)
    with progress(rt) as shown:
        report = push_now(rt, now=rt.now(), since=since, dry_run=dry_run or rt.dry_run, progress=shown)
    for line in report.refusals:
        say(rt, f"refused {line}")
    say(rt, f"crm push: {report.summary()}")
    raise typer.Exit(ExitCode.SERVICE if report.stopped else ExitCode.OK)


@app.command("status")
def crm_status(
    ctx: typer.Context, *, format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table
) -> None:
    """The cursor: the last push and its counts, people and notes sent, notes in flight, refused records.

    Example: arkops crm status --format json
    """
    from arkops.core.crm.push import status

    rt = runtime(ctx)
    found = status(rt)
    if format is Format.json:
        emit_json(found)
        return
    if format is Format.table:
        state = "never" if not found["last_push"] else found["last_push"] + ("" if found["complete"] else " (stopped)")
        print(f"provider: {found['provider'] or 'none'}" + (f" ({found['setup']})" if found["setup"] else ""))
        print(f"last push: {state}" + (f": {found['stopped']}" if found["stopped"] else ""))
        counts = ", ".join(f"{k} {v}" for k, v in found["last_counts"].items())
        print(f"last counts: {counts or '-'}")
        print(f"people sent: {found['people']}, notes sent: {found['notes']}, notes in flight: {found['inflight']}")
        if not found["refused"]:
            return
    emit_rows(found["refused"], format, ["email", "reason", "at"], title="refused")
