"""`arkops status` and `arkops report`: every domain's sections, on one screen or as one HTML page."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arkops.cli._output import checked, emit_json, runtime, say
from arkops.errors import ExitCode

if TYPE_CHECKING:
    from rich.table import Table as RichTable
    from rich.text import Text

    from arkops.core.sections import Chart, Figure, Section, Table

SPARKS = "▁▂▃▄▅▆▇█"
FIGURES_PER_ROW = 3


class ViewFormat(StrEnum):
    table = "table"
    json = "json"


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
    from rich.text import Text

    red_sections = [s.title for s in sections if s.red]
    headline = Text(f"arkops status, as of {as_of}  ")
    headline.append(
        f"needs attention: {', '.join(red_sections)}" if red_sections else "all clear",
        style="bold red" if red_sections else "green",
    )
    return headline


def _title(section: Section) -> Text:
    from rich.text import Text

    title = Text(section.title, style="bold red" if section.red else "bold")
    if section.note:
        title.append(f"  {section.note}", style="dim")
    return title


def _figure(figure: Figure) -> Text:
    """Label, value and, when red, why: a red figure stands out with a `!`."""
    from rich.text import Text

    cell = Text(f"{figure.label} ", style="dim")
    cell.append(figure.text + (" !" if figure.red else ""), style="bold red" if figure.red else "bold")
    if figure.note and figure.red:
        cell.append(f" ({figure.note})", style="red")
    return cell


def _figures(figures: list[Figure]) -> RichTable:
    from rich.table import Table as RichTable

    grid = RichTable.grid(padding=(0, 2))
    for _ in range(FIGURES_PER_ROW):
        grid.add_column()
    cells = [_figure(figure) for figure in figures]
    for start in range(0, len(cells), FIGURES_PER_ROW):
        grid.add_row(*cells[start : start + FIGURES_PER_ROW])
    return grid


def _table(table: Table) -> RichTable | Text:
    """Compact, numbers to the right (as in the report and the email), rows that need attention in red."""
    from rich.table import Table as RichTable
    from rich.text import Text

    if not table.rows:
        return Text(f"  {table.title}: {table.empty}", style="dim")
    shown = RichTable(show_edge=False, header_style="dim", box=None, padding=(0, 1))
    for header, numeric in zip(table.headers, table.numeric, strict=True):
        shown.add_column(header, overflow="fold", justify="right" if numeric else "left")
    for index, row in enumerate(table.cells):
        shown.add_row(*row, style="red" if index in table.red_rows else None)
    return shown


def render_sections(sections: list[Section], *, as_of: str) -> None:
    """One screen: each section's figures in columns, its charts as sparklines, its tables compact; red stands out."""
    from rich.console import Console
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else 110, highlight=False)
    console.print(_headline(sections, as_of))
    for section in sections:
        console.print(_title(section))
        if section.figures:
            console.print(_figures(section.figures))
        for chart in section.charts:
            console.print(Text("  " + _chart_line(chart), style="cyan"))
        for table in section.tables:
            console.print(_table(table))


def status(
    ctx: typer.Context,
    *,
    format: Annotated[ViewFormat, typer.Option("--format", help="Output format: table (one screen) or json.")] = (
        ViewFormat.table
    ),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when something is red (for monitoring).")] = False,
) -> None:
    """Everything on one screen: MRR, trials, outbox, jobs and every domain's figures; writes nothing.

    Red marks what needs a hand: failed payments, failed or dead emails,
    late or failing jobs, and each domain's own thresholds. `--format json`
    gives the same figures (money in minor units) for scripts.

    Example: arkops status --format json
    """
    from arkops.clock import iso, local_time
    from arkops.core.operator.status import as_json, build_status

    rt = runtime(ctx)
    now = rt.now()
    sections = build_status(rt, now=now)
    if format is ViewFormat.json:
        emit_json(as_json(sections, now=now, currency=rt.config.currency))
    else:
        local = local_time(now, rt.config.tz)
        render_sections(sections, as_of=f"{local} ({iso(now)})")
    if check and any(s.red for s in sections):
        raise typer.Exit(ExitCode.CHECK_FAILED)


def report(
    ctx: typer.Context,
    *,
    html: Annotated[Path, typer.Option("--html", metavar="FILE", help="Write the report to this HTML file.")],
    since: Annotated[
        int,
        typer.Option(
            help="Period covered: 12mo, 6mo, 2y (1 month to 10 years).",
            parser=checked("arkops.core.operator.html:parse_period"),
            metavar="PERIOD",
        ),
    ] = "12mo",  # type: ignore[assignment]  # parsed to months by `parse_period`
) -> None:
    """Write one self-contained HTML page: MRR and movements, revenue, trial cohorts and every domain's part.

    Inline CSS and SVG, no script, nothing loaded from outside: it opens
    anywhere, light or dark, phone or desktop; each chart has a text
    alternative and its data as a table.

    Example: arkops report --html report.html --since 6mo
    """
    from arkops.core.operator.html import write_report

    rt = runtime(ctx)
    size = write_report(rt, html, now=rt.now(), months=since)
    say(rt, f"report: wrote {html} ({size // 1024} KB, the last {since} months)")
