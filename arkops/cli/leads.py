"""`arkops leads ...`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
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
    emit_line,
    emit_rows,
    group,
    progress,
    runtime,
    say,
)
from arkops.errors import ExitCode
from arkops.text import counted

app = group("Hot leads: visits from access logs and the app, bot filtering, scoring and digests.")
FormatOption = Annotated[Format, typer.Option("--format", help=FORMAT_HELP)]


class LogFormat(StrEnum):
    auto = "auto"
    combined = "combined"
    jsonl = "jsonl"
    json = "json"


def _ingest_lines(rt, report) -> None:
    for example in report.bad_examples:
        say(rt, f"unreadable: {example}")
    for problem in report.unreadable:
        say(rt, f"not read to the end, tried again next run: {problem}")
    if report.rotated:
        say(rt, f"rotated files read from where they stopped: {', '.join(report.rotated)}")


@app.command("ingest")
def leads_ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="[PATH...]", help="Access logs or visit logs (.gz too); default: [leads] sources."),
    ] = None,
    *,
    format: Annotated[
        LogFormat,
        typer.Option("--format", help="auto, combined (nginx/Apache), jsonl (app visit log) or json (array)."),
    ] = LogFormat.auto,
) -> None:
    """Read the new lines of access logs and visit logs; store the visits to tracked pages (bots left out).

    Example: arkops leads ingest app/access.log
    """
    from arkops.core.leads.ingest import ingest

    rt = runtime(ctx)
    with progress(rt) as shown:
        report = ingest(rt, paths or None, fmt=format.value, now=rt.now(), progress=shown)
    _ingest_lines(rt, report)
    say(rt, f"leads ingest: {report.summary()}")


@app.command("import")
def leads_import(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="JSON list or JSON Lines of demo requests and leads.")
    ],
) -> None:
    """Import the app's demo requests and lead lists; malformed records are skipped and reported (exit 3).

    Example: arkops leads import app/demo_requests.jsonl
    """
    from arkops.core.leads.imports import import_files

    rt = runtime(ctx)
    report = import_files(rt, files, now=rt.now())
    for line in report.skipped:
        say(rt, f"skipped {line}")
    say(
        rt,
        f"leads import: {report.added} added, {report.duplicates} already present, {len(report.skipped)} skipped"
        + (f", {counted(report.erased, 'record')} of erased people not recorded" if report.erased else ""),
    )
    raise typer.Exit(ExitCode.BAD_DATA if report.skipped else ExitCode.OK)


@app.command("scan")
def leads_scan(ctx: typer.Context) -> None:
    """Ingest the configured logs and queue one digest of new hot leads and demo requests (cron: every 15 min).

    Example: arkops leads scan
    """
    from arkops.core.leads.scan import scan_now

    rt = runtime(ctx)
    report = scan_now(rt, now=rt.now())
    if report.ingested:
        _ingest_lines(rt, report.ingested)
    say(rt, f"leads scan: {report.summary()}")


@app.command("list")
def leads_list(
    ctx: typer.Context,
    *,
    since: SinceOption = None,
    until: UntilOption = None,
    min_score: Annotated[float | None, typer.Option("--min-score", help="Only leads with at least this score.")] = None,
    hot: Annotated[bool, typer.Option("--hot", help="Only hot leads.")] = False,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Leads with their score, visits, last page and source, hottest first (--since/--until: by the last visit).

    Example: arkops leads list --hot --since 7d
    """
    from arkops.core.leads.scoring import list_leads

    check_window(since, until)
    rt = runtime(ctx)
    rows = list_leads(rt, now=rt.now(), since=since, until=until, min_score=min_score, hot=hot)
    emit_rows(
        rows,
        format,
        ["lead", "email", "score", "hot", "visits", "first_visit", "last_visit", "last_page", "source", "referrer"],
        drop=("email", "first_visit", "referrer", "source", "last_page"),
        chosen=columns,
    )


@app.command("show")
def leads_show(
    ctx: typer.Context,
    who: Annotated[str, typer.Argument(metavar="VISITOR|EMAIL", help="A visitor id (v...) or an email.")],
    *,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """One lead's visit timeline: pages, times, sources, referrers.

    Example: arkops leads show trial03@example.org
    """
    from arkops.core.leads.scoring import show_lead

    rt = runtime(ctx)
    lead = show_lead(rt, who, now=rt.now())
    if format is Format.json:
        emit_json(lead)
        return
    if format is Format.table:
        hot = f" (hot: {lead['hot_rule']})" if lead["hot"] else ""
        emit_line(f"{lead['lead']}: score {lead['score']}{hot}, {lead['visits']} visit(s)")
    emit_rows(
        lead["timeline"],
        format,
        ["at", "page", "path", "source", "campaign", "referrer", "user_agent"],
        drop=("user_agent", "campaign", "path"),
        chosen=columns,
    )


@app.command("rebuild")
def leads_rebuild(ctx: typer.Context) -> None:
    """Make the kept scores and the days' aggregates again from the stored visits (after restoring day files by hand, say).

    Example: arkops leads rebuild
    """
    from arkops.core.leads import daily
    from arkops.core.leads.state import refresh

    rt = runtime(ctx)
    done = refresh(rt, rebuild=True)
    days = daily.refresh(rt, rebuild=True)
    say(
        rt,
        f"leads rebuild: {counted(done.visitors, 'visitor')} kept from the stored visits, "
        f"{counted(days, 'day')} of aggregates",
    )


@app.command("stats")
def leads_stats(
    ctx: typer.Context,
    *,
    since: SinceOption = None,
    until: UntilOption = None,
    compare: Annotated[
        bool,
        typer.Option("--compare", help="Beside each page, the web analytics' visitors and pageviews ([analytics])."),
    ] = False,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Per tracked page: hits, visitors, last hour, top referrer domains and UTM sources (default: the last 7 days).

    Example: arkops leads stats --since 24h --format json
    """
    check_window(since, until)
    rt = runtime(ctx)
    if compare:
        from arkops.core.analytics.aggregates import compare_pages

        stats = compare_pages(rt, now=rt.now(), since=since, until=until)
    else:
        from arkops.core.leads.scoring import page_stats

        stats = page_stats(rt, now=rt.now(), since=since, until=until)
    if format is Format.json:
        emit_json({"pages": stats["pages"]} | ({"provider": stats["provider"]} if compare else {}))
        return
    rows = [
        {
            **page,
            "referrers": ", ".join(f"{r['domain']} ({r['hits']})" for r in page["referrers"]),
            "sources": ", ".join(f"{s['source']} ({s['hits']})" for s in page["sources"]),
        }
        for page in stats["pages"]
    ]
    shown = ["path", "label", "hits", "visitors", "last_hour", "referrers", "sources"]
    if compare:
        shown = ["path", "label", "hits", "visitors", "provider_visitors", "provider_pageviews", "difference"]
    title = f"tracked pages since {stats['since']}" + (f" (logs beside {stats['provider']})" if compare else "")
    emit_rows(rows, format, shown, title=title if format is Format.table else None, chosen=columns)
