"""`arkops privacy ...` and `arkops audit`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    ColumnsOption,
    Format,
    SinceOption,
    UntilOption,
    check_window,
    emit_json,
    emit_rows,
    group,
    runtime,
    say,
)

app = group("Personal data: export or forget a person, purge what is past its age.")


class ExportFormat(StrEnum):
    json = "json"  # an export is one JSON document


PersonArgument = Annotated[str, typer.Argument(metavar="EMAIL|IP", help="An email address or an IP address.")]


@app.command("export")
def privacy_export(
    ctx: typer.Context,
    person: PersonArgument,
    *,
    format: Annotated[ExportFormat, typer.Option("--format", help="Output format: json (the only one).")] = (
        ExportFormat.json
    ),
) -> None:
    """Everything arkops holds about one person, from every store, as one JSON document.

    Trials and their activity, outbox messages, billing records and every
    other domain's declared personal data, archives included.

    Example: arkops privacy export ana@example.com --format json
    """
    from arkops.core.privacy.service import export

    rt = runtime(ctx)
    emit_json(export(rt, person, now=rt.now()))


@app.command("forget")
def privacy_forget(
    ctx: typer.Context,
    person: PersonArgument,
    *,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person from every store; keep invoices and payments under a pseudonym; refuse them from now on.

    An erasure record (a keyed hash, never the address) makes later imports,
    syncs and webhooks leave them out. Running it again changes nothing.
    With --dry-run it only counts what it would erase.

    Example: arkops privacy forget ana@example.com --yes
    """
    from arkops.core.privacy.person import parse_person
    from arkops.core.privacy.service import forget

    rt = runtime(ctx)
    parse_person(person)  # a typo is told before the question
    if not yes and not rt.dry_run:
        typer.confirm(f"Erase {person} from every arkops store? This cannot be undone", abort=True)
    print(f"privacy forget: {forget(rt, person, now=rt.now()).summary()}")


@app.command("purge")
def privacy_purge(ctx: typer.Context) -> None:
    """Apply every retention rule now (the daily `retention` job): visits, mail bodies, .eml and temp files, ...

    The same rules as `arkops retention`, under the same lock; with
    --dry-run it only counts what it would remove.

    Example: arkops privacy purge
    """
    from arkops.core.jobs.retention import run_now

    rt = runtime(ctx)
    print(f"privacy purge: {run_now(rt, now=rt.now()).summary()}")


def audit(
    ctx: typer.Context,
    *,
    since: SinceOption = None,
    until: UntilOption = None,
    command: Annotated[str | None, typer.Option("--command", help="Only this command, e.g. 'privacy forget'.")] = None,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """The audit log: who ran which command that changes data, when, and its outcome (addresses hashed).

    Example: arkops audit --since 2026-11-01 --format json
    """
    from arkops.core.privacy.audit import read

    check_window(since, until)
    rt = runtime(ctx)
    rows = read(rt, since=since, until=until, command=command)
    if not rows:
        say(rt, "no audit lines in this window" if since or until else "no audit lines")
    emit_rows(
        rows,
        format,
        ["at", "user", "command", "arguments", "dry_run", "outcome"],
        drop=("dry_run", "user"),
        chosen=columns,
    )
