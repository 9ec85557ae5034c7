"""`arkops status` and `arkops report`: every domain's sections, on one screen or as one HTML page."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arkops.cli._output import (
    Format,
    SinceOption,
    UntilOption,
    check_window,
    console,
    emit_json,
    emit_rows,
    fitted_table,
    runtime,
    say,
    text,
)
from arkops.errors import ExitCode

if TYPE_CHECKING:
    from rich.table import Table as RichTable
    from rich.text import Text

    from arkops.core.sections import Chart, Figure, Section, Table

SPARKS = "▁▂▃▄▅▆▇█"
FIGURE_GAP = "   "


MAX_MONTHS = 120  # the report covers at most 10 years


def sparkline(values: list[float]) -> str:
    """Eight levels of block characters between the series' lowest and highest value."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1
    return "".join(SPARKS[round((v - low) / span * (len(SPARKS) - 1))] for v in values)


def _chart_line(chart: Chart) -> str:
    if chart.kind == "area":  # stacked parts of a whole: the whole
        values = [sum(point) for point in zip(*chart.series.values(), strict=True)]
    else:
        values = chart.series[chart.line or next(iter(chart.series))]
    return f"{chart.title}: {sparkline(values)}  ({chart.labels[0]} .. {chart.labels[-1]})"


def _headline(sections: list[Section], as_of: str) -> Text:
    red_sections = [s.title for s in sections if s.red]
    headline = text(f"arkops status, as of {as_of}  ")
    headline.append(
        f"needs attention: {', '.join(red_sections)}" if red_sections else "all clear",
        style="bold red" if red_sections else "green",
    )
    return headline


def _title(section: Section) -> Text:
    title = text(section.title, style="bold red" if section.red else "bold")
    if section.note:
        title.append(f"  {section.note}", style="dim")
    return title


def _figure(figure: Figure) -> Text:
    """Label, value and, when red, why: a red figure stands out with a `!`."""
    cell = text(f"{figure.label} ", style="dim")
    cell.append(figure.text + (" !" if figure.red else ""), style="bold red" if figure.red else "bold")
    if figure.note and figure.red:
        cell.append(f" ({figure.note})", style="red")
    return cell


def _figures(figures: list[Figure], width: int) -> list[Text]:
    """The figures as lines, as many side by side as fit the width: a figure is never split across lines
    unless it is wider than the screen, when it wraps between words."""
    from rich.cells import cell_len

    lines: list[Text] = []
    for cell in (_figure(figure) for figure in figures):
        last = lines[-1] if lines else None
        if last is not None and cell_len(last.plain) + len(FIGURE_GAP) + cell_len(cell.plain) <= width:
            last.append(FIGURE_GAP)
            last.append_text(cell)
        else:
            lines.append(cell)
    return lines


def _table(table: Table, width: int) -> RichTable | Text:
    """Compact, numbers to the right (as in the report and the email), rows that need attention in red."""
    if not table.rows:
        return text(f"  {table.title}: {table.empty}", style="dim")
    return fitted_table(
        table.headers,
        table.cells,
        numeric=table.numeric,
        width=width,
        drop=table.drop,
        red_rows=table.red_rows,
        header_style="dim",
    )


def render_sections(sections: list[Section], *, as_of: str) -> None:
    """One screen: each section's figures in columns, its charts as sparklines, its tables compact; red stands out."""
    out = console()
    out.print(_headline(sections, as_of))
    for section in sections:
        out.print(_title(section))
        for line in _figures(section.figures, out.width):
            out.print(line)
        for chart in section.charts:
            out.print(text("  " + _chart_line(chart), style="cyan"))
        for table in section.tables:
            out.print(_table(table, out.width))


def figure_rows(sections: list[Section]) -> list[dict]:
    """`status --format csv`: one row per figure, its raw value and its text."""
    return [
        {
            "section": section.key,
            "figure": figure.key,
            "label": figure.label,
            "value": figure.value if not isinstance(figure.value, dict) else json.dumps(figure.value),
            "currency": figure.currency or "",
            "text": figure.text,
            "red": figure.red,
        }
        for section in sections
        for figure in section.figures
    ]


def status(
    ctx: typer.Context,
    *,
    format: Annotated[
        Format, typer.Option("--format", help="Output format: table (one screen), json or csv (one row per figure).")
    ] = Format.table,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when something is red (for monitoring).")] = False,
) -> None:
    """Everything on one screen: MRR, trials, outbox, jobs and every domain's figures; writes nothing.

    Red marks what needs a hand: failed payments, failed or dead emails,
    late or failing jobs, and each domain's own thresholds. `--format json`
    gives the same figures (money in minor units) for scripts.

    Example: arkops status --format json
    """
    from arkops.clock import local_time
    from arkops.core.operator.status import as_json, build_status

    rt = runtime(ctx)
    now = rt.now()
    sections = build_status(rt, now=now)
    if format is Format.json:
        emit_json(as_json(sections, now=now, currency=rt.config.currency))
    elif format is Format.csv:
        emit_rows(figure_rows(sections), format)
    else:
        local = local_time(now, rt.config.tz)
        render_sections(sections, as_of=local)
    if check and any(s.red for s in sections):
        raise typer.Exit(ExitCode.CHECK_FAILED)


def report_months(since: datetime, until: datetime, tz: tzinfo) -> int:
    """How many months a report from `since` to `until` covers: the months that start at or after `since`
    (local), and the month holding `until` (`--since 6mo`: six; `--since 2026-01-01` in October: ten)."""
    start, end = since.astimezone(tz), until.astimezone(tz)
    first = start.year * 12 + start.month - 1
    if start != start.replace(day=1, hour=0, minute=0, second=0, microsecond=0):
        first += 1
    months = end.year * 12 + end.month - first
    if months > MAX_MONTHS:
        raise typer.BadParameter(f"the report covers at most 10 years, not {months} months", param_hint="'--since'")
    return max(months, 1)


def report(
    ctx: typer.Context,
    *,
    html: Annotated[Path, typer.Option("--html", metavar="FILE", help="Write the report to this HTML file.")],
    since: SinceOption = None,
    until: UntilOption = None,
) -> None:
    """Write one self-contained HTML page: MRR and movements, revenue, trial cohorts and every domain's part.

    Inline CSS and SVG, no script, nothing loaded from outside: it opens
    anywhere, light or dark, phone or desktop; each chart has a text
    alternative and its data as a table. Without --since, the last 12
    months; with --until, as of that time.

    Example: arkops report --html report.html --since 6mo
    """
    from arkops.clock import months_later
    from arkops.core.operator.html import write_report

    check_window(since, until)
    rt = runtime(ctx)
    as_of = until or rt.now()
    months = report_months(since or months_later(as_of, -12), as_of, rt.config.tz)
    size = write_report(rt, html, now=as_of, months=months)
    say(rt, f"report: wrote {html} ({size // 1024} KB, the last {months} months)")
