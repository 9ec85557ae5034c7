"""`arkops funnel ...`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from arkops.cli._output import (
    FORMAT_HELP,
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
from arkops.errors import ExitCode

app = group("Funnel: visitors -> demo -> trial -> active -> paid, rate alerts and the no-data alarm.")
BAR_WIDTH = 40


class By(StrEnum):
    week = "week"
    source = "source"


class VisitorsFrom(StrEnum):
    logs = "logs"
    analytics = "analytics"


class CheckFormat(StrEnum):
    table = "table"
    json = "json"


def _flat(name: str, stages: list[dict], rates: list[dict]) -> dict:
    """One row per group: each stage's count, then each rate (a fraction; the table shows a percentage)."""
    row: dict = {"group": name}
    row.update({stage["name"]: stage["count"] for stage in stages})
    row.update({f"{r['from']}->{r['to']}": r["rate"] for r in rates})
    return row


@app.command("report")
def funnel_report(
    ctx: typer.Context,
    *,
    since: SinceOption = None,
    until: UntilOption = None,
    by: Annotated[
        By | None, typer.Option("--by", help="Also per ISO week (local time) or per source: week or source.")
    ] = None,
    cohort: Annotated[
        bool,
        typer.Option("--cohort", help="Follow the people who entered each earlier stage in the window instead."),
    ] = False,
    visitors_from: Annotated[
        VisitorsFrom,
        typer.Option(
            "--visitors-from",
            help="Count visitors from the access logs, or from the web analytics' aggregates: logs or analytics.",
        ),
    ] = VisitorsFrom.logs,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
) -> None:
    """Counts per stage and the rate of each stage pair with its 95 % Wilson interval, by week or source.

    Without --since, the last 30 days.

    Example: arkops funnel report --since 30d --by source
    """
    from arkops.core.funnel.stages import report
    from arkops.core.sections import formats

    check_window(since, until)
    rt = runtime(ctx)
    percent = formats(rt).percent
    document = report(
        rt,
        now=rt.now(),
        since=since,
        until=until,
        by=by.value if by else None,
        cohort=cohort,
        visitors_from=visitors_from.value,
    )
    if format is Format.json:
        emit_json(document)
        return
    rows = [_flat("all", document["stages"], document["rates"])]
    rows += [_flat(g["group"], g["stages"], g["rates"]) for g in document["groups"]]
    if format is Format.csv:
        emit_rows(rows, format)
        return
    window = document["window"]
    kind = "cohort rates" if document["cohort"] else "period rates"
    if document["provider"]:
        kind += f" (visitors: {document['provider']} aggregates)"
    top = max(stage["count"] for stage in document["stages"]) or 1
    stages = [
        {
            "stage": s["name"],
            "count": s["count"],
            "": "█" * max(1 if s["count"] else 0, round(BAR_WIDTH * s["count"] / top)),
        }
        for s in document["stages"]
    ]
    emit_rows(stages, format, title=f"funnel {window['start']} to {window['end']}")
    rates = [
        {
            "from -> to": f"{r['from']} -> {r['to']}",
            "rate": percent(r["rate"]),
            "95 % interval": f"{percent(r['low'])} - {percent(r['high'])}" if r["rate"] is not None else "",
            "of": f"{r['count_to']} of {r['count_from']}",
        }
        for r in document["rates"]
    ]
    emit_rows(rates, format, title=kind)
    if document["groups"]:
        shown: dict[str, Callable[[Any], str]] = {col: percent for col in rows[0] if "->" in col}
        emit_rows(rows, format, title=f"by {document['by']}", display=shown)


@app.command("check")
def funnel_check(
    ctx: typer.Context,
    *,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when a rule fails or visits stopped arriving (CI, monitoring).")
    ] = False,
    format: Annotated[
        CheckFormat, typer.Option("--format", help="Output format: table (lines on stderr) or json (stdout).")
    ] = CheckFormat.table,
) -> None:
    """Check the conversion-rate rules and that visits still arrive; queue alerts (cron: daily at 09:00).

    Example: arkops funnel check
    """
    from arkops.core.funnel.rules import check_now
    from arkops.core.sections import formats

    rt = runtime(ctx)
    report = check_now(rt, now=rt.now())
    if format is CheckFormat.json:
        emit_json(report.as_json())
        raise typer.Exit(ExitCode.CHECK_FAILED if check and report.failed else ExitCode.OK)
    for line in report.lines(formats(rt)):
        print(line, file=sys.stderr)  # under --check, the lines are the point: --quiet does not hide them
    say(rt, f"funnel check: {report.summary()}")
    raise typer.Exit(ExitCode.CHECK_FAILED if check and report.failed else ExitCode.OK)
