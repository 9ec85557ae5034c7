"""`arkops usage ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    AtOption,
    ColumnsOption,
    Format,
    SinceOption,
    UntilOption,
    check_window,
    emit_rows,
    group,
    runtime,
    say,
)
from arkops.errors import ExitCode
from arkops.text import counted

app = group("Usage: usage against the plans' limits, and the 80 %/100 % quota emails.")
FormatOption = Annotated[Format, typer.Option("--format", help=FORMAT_HELP)]
EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The customer's email address.")]
COLUMNS = ["email", "plan", "metric", "used", "limit", "percent", "period_start", "period_end", "updated_at"]


@app.command("record")
def usage_record(
    ctx: typer.Context,
    email: EmailArgument,
    metric: Annotated[str, typer.Argument(metavar="METRIC", help="What is counted, e.g. watches or api_calls.")],
    value: Annotated[int, typer.Argument(metavar="VALUE", help="The value now (or with --add, how much more).", min=0)],
    *,
    at: AtOption = None,
    add: Annotated[bool, typer.Option("--add", help="Add VALUE to the period's value instead of setting it.")] = False,
) -> None:
    """Record a customer's usage of a metric in the current billing period (set, or --add).

    Example: arkops usage record ana@example.com api_calls 250 --add
    """
    from arkops.core.plans.usage import record

    rt = runtime(ctx)
    stored = record(rt, email, metric, value, at=at, add=add, now=rt.now())
    say(rt, f"{stored['email']} {stored['metric']}: {stored['value']} in the period from {stored['period_start']}")


@app.command("import")
def usage_import(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="The app's export: JSON list or JSON Lines of {email, metric, value, timestamp}."
        ),
    ],
) -> None:
    """Import the app's usage export; malformed records are skipped and reported (exit 3).

    Example: arkops usage import app/usage.jsonl
    """
    from arkops.core.plans.usage import import_file

    rt = runtime(ctx)
    report = import_file(rt, file, now=rt.now())
    for line in report.skipped:
        say(rt, f"skipped {line}")
    say(
        rt,
        f"usage import: {report.recorded} recorded, {report.unchanged} unchanged, {len(report.skipped)} skipped"
        + (f", {counted(report.erased, 'record')} of erased people not recorded" if report.erased else ""),
    )
    raise typer.Exit(ExitCode.BAD_DATA if report.skipped else ExitCode.OK)


@app.command("show")
def usage_show(
    ctx: typer.Context, email: EmailArgument, *, format: FormatOption = Format.table, columns: ColumnsOption = None
) -> None:
    """A customer's usage against their plan's limits this period, in percent.

    Example: arkops usage show ana@example.com --format json
    """
    from arkops.core.plans.usage import show

    rt = runtime(ctx)
    emit_rows(
        show(rt, email, now=rt.now()),
        format,
        COLUMNS,
        display={"percent": lambda p: f"{p} %"},
        drop=("updated_at", "email", "plan", "period_start"),
        chosen=columns,
    )


@app.command("check")
def usage_check(ctx: typer.Context) -> None:
    """Queue the quota emails due (80 % and 100 %, once per period each) and the operator's digest (cron: hourly).

    Example: arkops usage check
    """
    from arkops.core.plans.usage import check

    rt = runtime(ctx)
    say(rt, f"usage check: {check(rt, now=rt.now()).summary()}")


@app.command("export")
def usage_export(
    ctx: typer.Context,
    *,
    since: SinceOption = None,
    until: UntilOption = None,
    format: Annotated[
        Format, typer.Option("--format", help="Output format: csv (default), json or table.")
    ] = Format.csv,
) -> None:
    """Every customer's usage per metric and billing period, with the limit and percent (for a spreadsheet or a BI tool).

    Example: arkops usage export --since 2026-01-01 --until 2026-03-31 --format csv
    """
    from arkops.core.plans.usage import export

    check_window(since, until)
    rt = runtime(ctx)
    emit_rows(export(rt, since=since, until=until), format, EXPORT_COLUMNS, display={"percent": lambda p: f"{p} %"})


EXPORT_COLUMNS = ["email", "plan", "metric", "period_start", "period_end", "limit", "used", "percent", "updated_at"]


@app.command("report")
def usage_report(ctx: typer.Context, *, format: FormatOption = Format.table, columns: ColumnsOption = None) -> None:
    """Per plan and metric: customers, total and average use, how many above 80 % and 100 % (upgrade candidates).

    Example: arkops usage report --format csv
    """
    from arkops.core.plans.usage import report

    rt = runtime(ctx)
    emit_rows(
        report(rt, now=rt.now()),
        format,
        ["plan", "metric", "limit", "customers", "total", "average", "over_80", "over_100"],
        chosen=columns,
    )
